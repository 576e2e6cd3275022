"""Authentication of the cluster's MidoNet-compatible REST API, as WSGI middleware.

:func:`wrap` puts it around the REST API app; it keeps MidoNet 5.x's habits,
which ``midonetclient`` relies on:

* ``POST <base>/login`` with HTTP Basic credentials answers 200 with a token:
  body ``{"key": <token>, "expires": <ISO 8601 UTC>}`` (media type
  ``application/vnd.org.midonet.Token-v1+json`` when the Accept header names
  it, else ``application/json``), header ``X-Auth-Token: <token>`` and cookie
  ``sessionId=<token>; Expires=<HTTP date>; Path=<base>`` (midonetclient reads
  the token from that cookie, so ``sessionId=...`` comes first). An
  ``X-Auth-Project`` header scopes the token to that tenant: an admin may name
  any, a tenant user only its own; another tenant's name is refused with 403,
  not 401, because the credentials were right and retrying them cannot help.
  A wrong user name or password is 401 with one message for both, so answers
  do not tell which user names exist. Another method than POST is 405.
* Every other request under ``<base>`` needs the token, as ``X-Auth-Token`` or
  the ``sessionId`` cookie; a missing, malformed, forged or expired one is
  401, the message saying which. That includes ``GET <base>/`` (the discovery
  document), as in MidoNet. Only ``GET <base>/openapi.json`` is public: it
  describes the API, not anybody's objects, and clients fetch it before they
  have credentials. Requests outside ``<base>`` reach the app untouched.
* An authenticated request reaches the app with an :class:`Identity` in
  ``environ["midonet.identity"]`` (see :func:`identity_of`). The app, not this
  module, applies the 403 rule (a tenant user touching another tenant's
  objects).

``[auth] strategy`` (see ``midonet_ryu.conf.auth`` for every option):

``local``
    Users and scrypt password hashes listed in ``[auth] users``, entries
    ``name:password_hash:tenant_id:role`` (role ``admin`` or ``tenant``; an
    admin's tenant_id may be empty). Tokens are stateless, HMAC-signed
    (user, tenant, role, expiry) with ``[auth] token_secret``: nodes sharing
    the secret accept each other's tokens and nothing is stored. Without a
    secret a node generates one at start, and its tokens then work only on
    that node until it restarts. A token stops working when its user leaves
    the configuration or changes role or tenant (after a restart).
``keystone``
    keystonemiddleware's ``auth_token`` checks the token against Keystone
    with the ``[keystone_authtoken]`` options of the same configuration; its
    headers become the identity (a role in ``[auth] admin_roles`` makes an
    admin; any other token must be scoped to a project). ``www_authenticate_uri``
    and ``auth_type`` with this service's credentials are required there.
    ``POST <base>/login`` answers 400: tokens come from Keystone.
``noauth``
    Every request is an admin's and login gives a token for any credentials:
    for tests and development only (a warning is logged at start).

A malformed users entry or hash, or a short secret, fails :func:`wrap` (so at
start) with :class:`AuthConfigError` naming the entry, never at a login.

Command line (the hash goes into ``[auth] users``)::

    python -m cluster_proxy.rest_api.auth hash-password   # password from stdin or a prompt
    python -m cluster_proxy.rest_api.auth gen-secret      # a value for [auth] token_secret
"""
from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime
import email.utils
import functools
import getpass
import importlib
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TextIO
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import webob
from oslo_config import cfg

from cluster_proxy.rest_api import errors
from cluster_proxy.rest_api.errors import ApiError, error_response, wants_vendor
from cluster_proxy.rest_api.tokens import (
    DEFAULT_N,
    DEFAULT_P,
    DEFAULT_R,
    HashFormatError,
    PasswordHash,
    TokenError,
    TokenSigner,
    hash_password,
)
from midonet_ryu.conf import auth as auth_conf

__all__ = [
    "IDENTITY_KEY", "AuthConfigError", "Identity", "LocalUser", "hash_password",
    "identity_of", "main", "parse_users", "wrap",
]

LOG = logging.getLogger(__name__)

IDENTITY_KEY = "midonet.identity"
TOKEN_HEADER = "X-Auth-Token"
PROJECT_HEADER = "X-Auth-Project"
SESSION_COOKIE = "sessionId"
TOKEN_MEDIA_TYPE = "application/vnd.org.midonet.Token-v1+json"
MIN_SECRET_LENGTH = 16

_NAME = re.compile(r"[A-Za-z0-9._@-]+\Z")
_TENANT = re.compile(r"[^\s:,]+\Z")


class AuthConfigError(ValueError):
    """The ``[auth]`` configuration cannot work; raised by :func:`wrap` at start."""


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who made a request. ``tenant_id`` is the tenant the credentials are
    scoped to; it is None only for an admin not scoped to any (a tenant user
    always has one, so the app's 403 rule never meets a tenant-less user)."""

    user: str
    tenant_id: str | None
    is_admin: bool
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.is_admin and self.tenant_id is None:
            raise ValueError(f"identity of non-admin {self.user!r} needs a tenant")


def identity_of(environ: Mapping[str, Any]) -> Identity:
    """The identity :func:`wrap` put into ``environ``.

    Raises a 401 :class:`ApiError` when there is none (a public route, or an
    app not wrapped): failing closed keeps a handler that needs an identity
    from serving anonymous callers.
    """
    identity = environ.get(IDENTITY_KEY)
    if not isinstance(identity, Identity):
        raise errors.unauthorized("this request carries no authenticated identity")
    return identity


@dataclasses.dataclass(frozen=True)
class LocalUser:
    """One ``[auth] users`` entry, parsed and checked at start."""

    name: str
    password: PasswordHash
    tenant_id: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def parse_users(entries: Iterable[str]) -> dict[str, LocalUser]:
    """``[auth] users`` entries by user name; :class:`AuthConfigError` names
    the first bad entry (by position and name: never its hash)."""
    users: dict[str, LocalUser] = {}
    for pos, entry in enumerate(entries, 1):
        user = _parse_user(pos, entry.strip())
        if user.name in users:
            raise AuthConfigError(f"[auth] users entry {pos}: user {user.name!r} is listed twice")
        users[user.name] = user
    return users


def _parse_user(pos: int, entry: str) -> LocalUser:
    fields = entry.split(":")
    name = fields[0]
    where = f"[auth] users entry {pos}" + (f" ({name!r})" if _NAME.match(name) else "")
    if len(fields) != 4:
        raise AuthConfigError(
            f"{where}: expected name:password_hash:tenant_id:role, found "
            f"{len(fields)} ':'-separated fields")
    _, hashed, tenant, role = fields
    if not _NAME.match(name):
        raise AuthConfigError(f"{where}: user name must be letters, digits and ._@-")
    if role not in ("admin", "tenant"):
        raise AuthConfigError(f"{where}: role must be admin or tenant, not {role!r}")
    if tenant and not _TENANT.match(tenant):
        raise AuthConfigError(f"{where}: tenant_id may not contain whitespace")
    if role == "tenant" and not tenant:
        raise AuthConfigError(f"{where}: a tenant user needs a tenant_id")
    try:
        password = PasswordHash.parse(hashed)
    except HashFormatError as e:
        raise AuthConfigError(f"{where}: bad password hash: {e}") from None
    if password.n * password.r < DEFAULT_N * DEFAULT_R:
        LOG.warning("%s: password hash is cheaper than hash-password's (n=%d r=%d); "
                    "rehash it", where, password.n, password.r)
    return LocalUser(name, password, tenant or None, role)


@functools.cache
def _decoy_hash() -> PasswordHash:
    """A hash to check unknown users' passwords against, so they take as long
    as known users' and the time of a 401 does not reveal which names exist."""
    return PasswordHash.parse(hash_password(secrets.token_urlsafe(16)))


# --- the middleware --------------------------------------------------------------


class _Strategy(Protocol):
    """What differs between strategies: login, and the path of a protected
    request to the app (which must set the identity or refuse)."""

    def login(self, req: webob.Request) -> webob.Response: ...

    def protected(self, environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]: ...


class AuthMiddleware:
    """Sorts requests: outside the base path and public documents go to the
    app as they are, login to the strategy, everything else through the
    strategy's check."""

    def __init__(self, app: WSGIApplication, base_path: str, strategy: _Strategy) -> None:
        self.app = app
        self.base_path = base_path
        self.strategy = strategy

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        base = self.base_path
        if base and path != base and not path.startswith(base + "/"):
            return self.app(environ, start_response)
        rel = path[len(base):]
        method = environ.get("REQUEST_METHOD", "GET")
        if rel == "/openapi.json" and method in ("GET", "HEAD"):
            return self.app(environ, start_response)
        if rel in ("/login", "/login/"):
            req = webob.Request(environ)
            try:
                if method != "POST":
                    raise ApiError(405, f"{method} {path}: log in with POST",
                                   headers={"Allow": "POST"})
                resp = self.strategy.login(req)
            except ApiError as err:
                resp = error_response(err, wants_vendor(req))
            return resp(environ, start_response)
        return self.strategy.protected(environ, start_response)


class _TokenIssuer:
    """Login's answer, shared by the strategies that issue tokens themselves."""

    def __init__(self, signer: TokenSigner, lifetime: int, base_path: str) -> None:
        self.signer = signer
        self.lifetime = lifetime
        self.base_path = base_path or "/"

    def answer(self, req: webob.Request, user: str, tenant_id: str | None,
               role: str) -> webob.Response:
        token, claims = self.signer.issue(user, tenant_id, role, self.lifetime)
        expires = datetime.datetime.fromtimestamp(claims.expires, datetime.UTC)
        resp = webob.Response(status=200)
        vendor = TOKEN_MEDIA_TYPE.lower() in req.headers.get("Accept", "").lower()
        resp.content_type = TOKEN_MEDIA_TYPE if vendor else "application/json"
        resp.body = json.dumps({"key": token,
                                "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
        resp.headers[TOKEN_HEADER] = token
        # Built by hand: midonetclient takes the token from before the first
        # ';'. HttpOnly and SameSite because a cookie is sent by browsers
        # unasked, the way cross-site request forgery works.
        http_date = email.utils.formatdate(claims.expires, usegmt=True)
        resp.headers["Set-Cookie"] = (f"{SESSION_COOKIE}={token}; Expires={http_date}; "
                                      f"Path={self.base_path}; HttpOnly; SameSite=Strict")
        resp.headers["Cache-Control"] = "no-store"
        return resp


def _basic_credentials(req: webob.Request) -> tuple[str, str]:
    header = req.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise errors.unauthorized("log in with HTTP Basic credentials (Authorization: Basic ...)")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.unauthorized("malformed HTTP Basic credentials: not base64 UTF-8") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise errors.unauthorized("malformed HTTP Basic credentials: no ':' after the user name")
    return user, password


def _request_token(req: webob.Request) -> str:
    token = req.headers.get(TOKEN_HEADER)
    if token is None:
        token = req.cookies.get(SESSION_COOKIE)
    if not token:
        raise errors.unauthorized(
            f"missing token: send the {TOKEN_HEADER} header (or the {SESSION_COOKIE} "
            "cookie) that POST /login answered")
    return token.strip()


class _LocalStrategy:
    def __init__(self, app: WSGIApplication, users: dict[str, LocalUser],
                 issuer: _TokenIssuer) -> None:
        self.app = app
        self.users = users
        self.issuer = issuer

    def login(self, req: webob.Request) -> webob.Response:
        name, password = _basic_credentials(req)
        user = self.users.get(name)
        if user is None:
            _decoy_hash().verify(password)
            raise errors.unauthorized("wrong user name or password")
        if not user.password.verify(password):
            raise errors.unauthorized("wrong user name or password")
        project = req.headers.get(PROJECT_HEADER, "").strip() or None
        if user.is_admin:
            tenant = project or user.tenant_id
        elif project is None or project == user.tenant_id:
            tenant = user.tenant_id
        else:
            raise errors.forbidden(f"user {name!r} is not a member of project {project!r}")
        LOG.info("login of %s (tenant %s)", name, tenant)
        return self.issuer.answer(req, name, tenant, user.role)

    def identify(self, req: webob.Request) -> Identity:
        try:
            claims = self.issuer.signer.verify(_request_token(req))
        except TokenError as e:
            raise errors.unauthorized(str(e)) from None
        user = self.users.get(claims.user)
        if (user is None or user.role != claims.role
                or (not user.is_admin and claims.tenant_id != user.tenant_id)):
            raise errors.unauthorized(
                f"token of {claims.user!r}: that user is gone or changed role or tenant; "
                "log in again")
        return Identity(user.name, claims.tenant_id, user.is_admin, (user.role,))

    def protected(self, environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]:
        req = webob.Request(environ)
        try:
            identity = self.identify(req)
        except ApiError as err:
            return error_response(err, wants_vendor(req))(environ, start_response)
        environ[IDENTITY_KEY] = identity
        return self.app(environ, start_response)


class _NoAuthStrategy:
    IDENTITY = Identity("noauth", None, True, ("admin",))

    def __init__(self, app: WSGIApplication, issuer: _TokenIssuer) -> None:
        self.app = app
        self.issuer = issuer

    def login(self, req: webob.Request) -> webob.Response:
        return self.issuer.answer(req, self.IDENTITY.user, None, "admin")

    def protected(self, environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]:
        environ[IDENTITY_KEY] = self.IDENTITY
        return self.app(environ, start_response)


class _KeystoneIdentity:
    """Behind keystonemiddleware (run with ``delay_auth_decision``, so every
    refusal is decided here and answered in MidoNet's error shape): its
    headers become the identity."""

    def __init__(self, app: WSGIApplication, admin_roles: Iterable[str]) -> None:
        self.app = app
        self.admin_roles = frozenset(r.lower() for r in admin_roles)

    def identify(self, headers: Mapping[str, str]) -> Identity:
        if headers.get("X-Identity-Status") != "Confirmed":
            if not headers.get(TOKEN_HEADER):
                raise errors.unauthorized(
                    f"missing token: send a Keystone token as the {TOKEN_HEADER} header")
            raise errors.unauthorized("invalid or expired Keystone token")
        if headers.get("X-Service-Identity-Status", "Confirmed") != "Confirmed":
            raise errors.unauthorized("invalid or expired Keystone service token")
        user = headers.get("X-User-Name") or headers.get("X-User-Id")
        if not user:
            raise errors.unauthorized("Keystone token names no user")
        roles = tuple(r.strip() for r in headers.get("X-Roles", "").split(",") if r.strip())
        is_admin = any(r.lower() in self.admin_roles for r in roles)
        tenant = headers.get("X-Project-Id") or None
        if tenant is None and not is_admin:
            raise errors.unauthorized("Keystone token is not scoped to a project")
        return Identity(user, tenant, is_admin, roles)

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        req = webob.Request(environ)
        try:
            identity = self.identify(req.headers)
        except ApiError as err:
            # keystonemiddleware adds its own WWW-Authenticate (Keystone uri=...)
            err.headers.pop("WWW-Authenticate", None)
            return error_response(err, wants_vendor(req))(environ, start_response)
        environ[IDENTITY_KEY] = identity
        return self.app(environ, start_response)


class _KeystoneStrategy:
    def __init__(self, app: WSGIApplication, conf: cfg.ConfigOpts) -> None:
        # Imported here: keystonemiddleware (and oslo.cache, keystoneauth)
        # is only needed, and only has to be installed, for this strategy.
        auth_token: Any = importlib.import_module("keystonemiddleware.auth_token")
        # oslo_config_config: keystonemiddleware registers and reads its
        # [keystone_authtoken] options on our ConfigOpts, not on cfg.CONF.
        self.checked: WSGIApplication = auth_token.AuthProtocol(
            _KeystoneIdentity(app, conf.auth.admin_roles),
            {"oslo_config_config": conf, "delay_auth_decision": "true"})
        # Checked now, not at the first request: without them keystonemiddleware
        # starts, then answers every request 500 (no plugin to find Keystone).
        ks = conf.keystone_authtoken
        if not ks.www_authenticate_uri:
            raise AuthConfigError(
                "[auth] strategy = keystone needs [keystone_authtoken] www_authenticate_uri "
                "(the Keystone endpoint clients get their tokens from)")
        if not (ks.auth_type or ks.auth_section):
            raise AuthConfigError(
                "[auth] strategy = keystone needs [keystone_authtoken] auth_type (e.g. "
                "password) and this service's credentials, to validate tokens")

    def protected(self, environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]:
        # keystonemiddleware reads the header only: a sessionId cookie stands in
        if not environ.get("HTTP_X_AUTH_TOKEN"):
            cookie = webob.Request(environ).cookies.get(SESSION_COOKIE)
            if cookie:
                environ["HTTP_X_AUTH_TOKEN"] = cookie
        return self.checked(environ, start_response)

    def login(self, req: webob.Request) -> webob.Response:
        raise errors.bad_request(
            "this API authenticates with Keystone: obtain a token from Keystone and send "
            f"it as the {TOKEN_HEADER} header")


def _token_secret(conf: cfg.ConfigOpts) -> bytes:
    secret: str | None = conf.auth.token_secret
    if secret is None:
        LOG.warning("[auth] token_secret is unset: generated one; this node's tokens work "
                    "only on this node, until it restarts")
        return secrets.token_bytes(32)
    if len(secret) < MIN_SECRET_LENGTH:
        raise AuthConfigError(
            f"[auth] token_secret must have at least {MIN_SECRET_LENGTH} characters")
    return secret.encode("utf-8")


def wrap(app: WSGIApplication, conf: cfg.ConfigOpts, base_path: str = "/midonet-api",
         now: Callable[[], float] = time.time) -> WSGIApplication:
    """``app`` behind the authentication ``conf``'s ``[auth] strategy`` says.

    ``base_path`` is where the API is served (MidoNet: ``/midonet-api``);
    ``now`` is the clock token expiry is checked against. Raises
    :class:`AuthConfigError` for a configuration that cannot work.
    """
    auth_conf.register_opts(conf)  # idempotent; registers nothing already there
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    strategy_name = conf.auth.strategy
    strategy: _Strategy
    if strategy_name == "keystone":
        LOG.info("REST API authentication: Keystone")
        strategy = _KeystoneStrategy(app, conf)
    else:
        issuer = _TokenIssuer(TokenSigner(_token_secret(conf), now),
                              conf.auth.token_lifetime, base)
        if strategy_name == "noauth":
            LOG.warning("REST API authentication is off ([auth] strategy = noauth): every "
                        "request is an admin's; use this for tests and development only")
            strategy = _NoAuthStrategy(app, issuer)
        else:
            users = parse_users(conf.auth.users)
            if not users:
                LOG.warning("[auth] users is empty: every REST API login will fail")
            LOG.info("REST API authentication: %d local users", len(users))
            strategy = _LocalStrategy(app, users, issuer)
    return AuthMiddleware(app, base, strategy)


# --- command line ----------------------------------------------------------------


def _read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("hash-password: the passwords differ")
    else:
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise SystemExit("hash-password: empty password")
    return password


def main(argv: list[str] | None = None, stdin: TextIO | None = None,
         stdout: TextIO | None = None) -> int:
    """``hash-password``: the hash of a password (first line of stdin, or
    asked twice at a terminal) for ``[auth] users``; ``gen-secret``: a random
    ``[auth] token_secret``."""
    parser = argparse.ArgumentParser(prog="python -m cluster_proxy.rest_api.auth",
                                     description="Helpers for the REST API's [auth] options.")
    commands = parser.add_subparsers(dest="command", required=True)
    hp = commands.add_parser("hash-password", help="print the scrypt hash of a password")
    hp.add_argument("--n", type=int, default=DEFAULT_N, help="scrypt cost (power of 2)")
    commands.add_parser("gen-secret", help="print a random token_secret")
    args = parser.parse_args(argv)
    out = stdout or sys.stdout
    if args.command == "gen-secret":
        print(secrets.token_urlsafe(32), file=out)
        return 0
    password = _read_password(stdin or sys.stdin)
    try:
        print(hash_password(password, n=args.n, r=DEFAULT_R, p=DEFAULT_P), file=out)
    except ValueError as e:  # a bad --n
        raise SystemExit(f"hash-password: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
