"""[auth]: who may use the cluster's MidoNet-compatible REST API.

MidoNet's ``cluster.auth.provider_class`` chose between a mock (everyone is
admin) and Keystone; here ``strategy`` picks ``local`` (users listed in this
file, the default, so a fresh node is not open to everybody), ``keystone``
(keystonemiddleware's ``auth_token`` with its own ``[keystone_authtoken]``
options) or ``noauth`` (everyone is admin: tests and development only).

``users`` (``local`` only) holds one ``name:password_hash:tenant_id:role``
entry per user, comma separated; an indented continuation line may hold the
next entry, so each user can have a line of its own::

    [auth]
    users = admin:scrypt.16384.8.1.<salt>.<hash>::admin,
        alice:scrypt.16384.8.1.<salt>.<hash>:tenant-a:tenant

``role`` is ``admin`` (every tenant's objects; ``tenant_id`` may be empty) or
``tenant`` (only ``tenant_id``'s objects; ``tenant_id`` required). Names are
letters, digits and ``._@-``. The hash comes from ``python -m
cluster_proxy.rest_api.auth hash-password``; its fields are dot separated
because oslo.config reads ``$name`` in a value as a reference to another
option. A malformed entry stops the service at start, naming the entry.

Tokens are stateless and HMAC-signed with ``token_secret``: every cluster node
configured with the same secret accepts the tokens any of them issued. Without
a secret each node makes up its own at start, so its tokens work only on that
node and only until it restarts.
"""
from oslo_config import cfg

GROUP = "auth"

OPTS = [
    cfg.StrOpt(
        "strategy",
        default="local",
        choices=[
            ("local", "users and password hashes listed in [auth] users"),
            ("keystone", "OpenStack Keystone tokens, checked by keystonemiddleware's "
             "auth_token with the [keystone_authtoken] options"),
            ("noauth", "no authentication: every request is an admin's "
             "(tests and development only)"),
        ],
        help="How REST API clients authenticate (MidoNet: cluster.auth.provider_class).",
    ),
    cfg.ListOpt(
        "users",
        default=[],
        # hashes are not passwords, but a leaked one can be attacked offline:
        # keep them out of logged configuration dumps
        secret=True,
        help="Local users (strategy = local), comma separated entries "
        "name:password_hash:tenant_id:role, role admin or tenant; tenant_id may be "
        "empty for an admin. An indented line continues the list, so each user can "
        "have its own. Make a password_hash with `python -m "
        "cluster_proxy.rest_api.auth hash-password`.",
    ),
    cfg.IntOpt(
        "token_lifetime",
        default=3600,
        min=1,
        help="Seconds a token from POST /login stays valid (MidoNet's session "
        "expiry default).",
    ),
    cfg.StrOpt(
        "token_secret",
        secret=True,
        help="Secret (at least 16 characters) that signs the tokens of POST /login. "
        "Give every cluster node the same one so a token from any node works on "
        "all; when unset each node generates its own at start, and its tokens "
        "then work only on that node until it restarts. Write $$ for a literal $ "
        "(`python -m cluster_proxy.rest_api.auth gen-secret` makes one without).",
    ),
    cfg.ListOpt(
        "admin_roles",
        default=["admin"],
        help="Keystone roles (strategy = keystone) that make a token's holder a "
        "MidoNet admin, allowed every tenant's objects.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
