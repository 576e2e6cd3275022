"""The REST API's authentication middleware (local and noauth strategies),
driven through webob requests against an app that echoes the identity."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import subprocess
import sys

import pytest
import webob
from oslo_config import cfg

from cluster_proxy.rest_api import auth
from cluster_proxy.rest_api.errors import ERROR_MEDIA_TYPE
from cluster_proxy.rest_api.tokens import PasswordHash
from midonet_ryu.conf import auth as auth_conf

BASE = "/midonet-api"
T0 = 1_700_000_000.0
SECRET = "a shared cluster secret"
# Cheap hashes keep the tests fast; the cost is part of the stored string.
ALICE = auth.hash_password("alice-pw", n=16)
ROOT = auth.hash_password("root-pw", n=16)
USERS = [f"alice:{ALICE}:tenant-a:tenant", f"root:{ROOT}::admin"]


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def echo(environ, start_response):
    """The wrapped app: answers what it was handed."""
    ident = environ.get(auth.IDENTITY_KEY)
    body = {"path": environ["PATH_INFO"],
            "identity": dataclasses.asdict(ident) if ident is not None else None}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def make_conf(**auth_opts) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    auth_conf.register_opts(conf)
    conf([], default_config_files=[])
    auth_opts.setdefault("users", USERS)
    auth_opts.setdefault("token_secret", SECRET)
    for name, value in auth_opts.items():
        conf.set_override(name, value, group="auth")
    return conf


def make_app(clock=None, **auth_opts):
    return auth.wrap(echo, make_conf(**auth_opts), base_path=BASE, now=clock or Clock())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def login(app, user="alice", password="alice-pw", **headers):
    req = webob.Request.blank(f"{BASE}/login", method="POST",
                              headers={"Authorization": basic(user, password), **headers})
    return req.get_response(app)


def call(app, path=f"{BASE}/bridges", **kw):
    return webob.Request.blank(path, **kw).get_response(app)


def token_of(app, **kw) -> str:
    resp = login(app, **kw)
    assert resp.status_int == 200, resp.text
    return resp.json["key"]


def refusal(resp, status: int) -> str:
    """The message of an Error-v1 refusal, after checking its shape."""
    assert resp.status_int == status, resp.text
    assert resp.content_type == ERROR_MEDIA_TYPE
    assert resp.json["code"] == status
    return resp.json["message"]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(clock):
    return make_app(clock)


# --- login -----------------------------------------------------------------------


def test_login_answers_token_in_body_cookie_and_header(app):
    resp = login(app)
    assert resp.status_int == 200
    assert resp.content_type == "application/json"
    key = resp.json["key"]
    assert resp.json["expires"] == "2023-11-14T23:13:20Z"  # T0 + 3600
    assert resp.headers["X-Auth-Token"] == key
    cookie = resp.headers["Set-Cookie"]
    # midonetclient takes the token from between '=' and the first ';'
    assert cookie.startswith(f"sessionId={key}; Expires=Tue, 14 Nov 2023 23:13:20 GMT;")
    assert f"Path={BASE}" in cookie
    assert resp.headers["Cache-Control"] == "no-store"


def test_login_vendor_media_type_when_asked(app):
    resp = login(app, Accept="application/vnd.org.midonet.Token-v1+json")
    assert resp.status_int == 200
    assert resp.content_type == "application/vnd.org.midonet.Token-v1+json"


def test_token_lifetime_comes_from_config(clock):
    app = make_app(clock, token_lifetime=60)
    assert login(app).json["expires"] == "2023-11-14T22:14:20Z"


def test_wrong_password_is_401(app):
    resp = login(app, password="nope")
    assert refusal(resp, 401) == "wrong user name or password"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_unknown_user_is_401_with_the_same_message(app):
    assert refusal(login(app, user="mallory", password="x"), 401) == \
        "wrong user name or password"


@pytest.mark.parametrize("header", [None, "Bearer abc", "Basic !!!notbase64",
                                    "Basic " + base64.b64encode(b"no-colon").decode()])
def test_login_without_good_basic_credentials_is_401(app, header):
    headers = {"Authorization": header} if header else {}
    resp = call(app, f"{BASE}/login", method="POST", headers=headers)
    assert "Basic" in refusal(resp, 401)


def test_login_other_than_post_is_405(app):
    resp = call(app, f"{BASE}/login", headers={"Authorization": basic("alice", "alice-pw")})
    assert refusal(resp, 405)
    assert resp.headers["Allow"] == "POST"


def test_project_scoping(app):
    # a tenant user may name its own project, or none
    for headers in ({}, {"X-Auth-Project": "tenant-a"}):
        tok = token_of(app, **headers)
        assert call(app, headers={"X-Auth-Token": tok}).json["identity"]["tenant_id"] == \
            "tenant-a"
    # another project is 403: the credentials were right, the scope is not allowed
    msg = refusal(login(app, **{"X-Auth-Project": "tenant-b"}), 403)
    assert "not a member of project 'tenant-b'" in msg
    # an admin may scope itself to any project, or to none
    tok = token_of(app, user="root", password="root-pw", **{"X-Auth-Project": "tenant-b"})
    ident = call(app, headers={"X-Auth-Token": tok}).json["identity"]
    assert ident == {"user": "root", "tenant_id": "tenant-b", "is_admin": True,
                     "roles": ["admin"]}
    tok = token_of(app, user="root", password="root-pw")
    assert call(app, headers={"X-Auth-Token": tok}).json["identity"]["tenant_id"] is None


# --- later requests --------------------------------------------------------------


def test_token_on_later_call_reaches_app_with_identity(app):
    resp = call(app, headers={"X-Auth-Token": token_of(app)})
    assert resp.status_int == 200
    assert resp.json == {"path": f"{BASE}/bridges",
                         "identity": {"user": "alice", "tenant_id": "tenant-a",
                                      "is_admin": False, "roles": ["tenant"]}}


def test_session_cookie_alone_is_enough(app):
    resp = call(app, headers={"Cookie": f"sessionId={token_of(app)}"})
    assert resp.json["identity"]["user"] == "alice"


def test_missing_token_is_401(app):
    assert "missing token" in refusal(call(app), 401)
    assert "missing token" in refusal(call(app, headers={"X-Auth-Token": ""}), 401)


def test_discovery_document_needs_a_token(app):
    for path in (BASE, f"{BASE}/"):
        assert "missing token" in refusal(call(app, path), 401)
    assert call(app, f"{BASE}/", headers={"X-Auth-Token": token_of(app)}).status_int == 200


def test_tampered_token_is_401(app):
    tok = token_of(app)
    version, payload, mac = tok.split(".")
    # claim to be root: a payload the signature does not cover
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(u="root", r="admin", t=None)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{version}.{forged}.{mac}", tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")):
        assert "invalid token signature" in refusal(
            call(app, headers={"X-Auth-Token": bad}), 401)


@pytest.mark.parametrize("bad", ["garbage", "v1.abc", "v2.a.b", "v1.a.b.c", "v1.é.x",
                                 "v1." + "a" * 5000 + ".b"])
def test_malformed_token_is_401(app, bad):
    assert "malformed token" in refusal(call(app, headers={"X-Auth-Token": bad}), 401)


def test_expired_token_is_401(app, clock):
    tok = token_of(app)
    clock.t = T0 + 3599
    assert call(app, headers={"X-Auth-Token": tok}).status_int == 200
    clock.t = T0 + 3600
    assert "token expired" in refusal(call(app, headers={"X-Auth-Token": tok}), 401)


def test_nodes_sharing_the_secret_accept_each_others_tokens(clock):
    tok = token_of(make_app(clock))
    other = make_app(clock)
    assert call(other, headers={"X-Auth-Token": tok}).json["identity"]["user"] == "alice"
    for stranger in (make_app(clock, token_secret="another cluster's secret"),
                     make_app(clock, token_secret=None)):  # generates its own
        assert "invalid token signature" in refusal(
            call(stranger, headers={"X-Auth-Token": tok}), 401)


def test_token_of_a_user_removed_or_changed_is_401(clock):
    tok = token_of(make_app(clock))
    for users in ([f"root:{ROOT}::admin"], [f"alice:{ALICE}:tenant-b:tenant"],
                  [f"alice:{ALICE}::admin"]):
        app = make_app(clock, users=users)
        assert "log in again" in refusal(call(app, headers={"X-Auth-Token": tok}), 401)


def test_plain_json_errors_when_client_accepts_only_json(app):
    resp = call(app, headers={"Accept": "application/json"})
    assert resp.status_int == 401
    assert resp.content_type == "application/json"


# --- public paths ----------------------------------------------------------------


def test_openapi_document_is_public(app):
    resp = call(app, f"{BASE}/openapi.json")
    assert resp.status_int == 200
    assert resp.json["identity"] is None
    # only reading it is public
    assert refusal(call(app, f"{BASE}/openapi.json", method="PUT"), 401)


@pytest.mark.parametrize("path", ["/", "/metrics", "/midonet-apix/bridges"])
def test_requests_outside_base_pass_through_untouched(app, path):
    resp = call(app, path)
    assert resp.status_int == 200
    assert resp.json == {"path": path, "identity": None}


def test_identity_of():
    ident = auth.Identity("alice", "tenant-a", False, ("tenant",))
    assert auth.identity_of({auth.IDENTITY_KEY: ident}) is ident
    with pytest.raises(auth.ApiError) as e:
        auth.identity_of({})
    assert e.value.status == 401
    with pytest.raises(ValueError):
        auth.Identity("alice", None, False)  # only an admin may have no tenant


# --- configuration ---------------------------------------------------------------


@pytest.mark.parametrize("entry, complaint", [
    (f"bob:{ALICE}:tenant-b", "entry 2 ('bob'): expected name:password_hash:tenant_id:role"),
    (f"bob:{ALICE}:tenant-b:owner", "entry 2 ('bob'): role must be admin or tenant"),
    (f"bob:{ALICE}::tenant", "entry 2 ('bob'): a tenant user needs a tenant_id"),
    (f"b b:{ALICE}:t:tenant", "entry 2: user name must be"),
    ("bob:plaintext:tenant-b:tenant", "entry 2 ('bob'): bad password hash: expected scrypt."),
    ("bob:scrypt.16384.8.1.c2FsdHNhbHQ.!!:t:tenant", "entry 2 ('bob'): bad password hash"),
    ("bob:scrypt.1000.8.1.c2FsdHNhbHQ.c2FsdHNhbHRzYWx0c2FsdA:t:tenant", "power of 2"),
    ("bob:scrypt.1048576.32.1.c2FsdHNhbHQ.c2FsdHNhbHRzYWx0c2FsdA:t:tenant", "256 MiB"),
    (f"alice:{ALICE}:tenant-b:tenant", "entry 2: user 'alice' is listed twice"),
], ids=["three-fields", "bad-role", "tenant-without-tenant-id", "bad-name", "not-a-hash",
        "bad-base64", "n-not-power-of-2", "too-costly", "duplicate"])
def test_malformed_users_entry_is_refused_at_start(entry, complaint):
    with pytest.raises(auth.AuthConfigError) as e:
        make_app(users=[USERS[0], entry])
    assert complaint in str(e.value)
    assert ALICE.split(".")[-1] not in str(e.value)  # never echoes a hash


def test_users_from_a_config_file(tmp_path, clock):
    """The documented layout: one entry per line, continuation lines indented."""
    path = tmp_path / "midonet_ryu.conf"
    path.write_text(f"[auth]\ntoken_secret = {SECRET}\n"
                    f"users = {USERS[0]},\n    {USERS[1]},\n")
    conf = cfg.ConfigOpts()
    auth_conf.register_opts(conf)
    conf(["--config-file", str(path)], default_config_files=[])
    app = auth.wrap(echo, conf, now=clock)
    assert token_of(app, user="root", password="root-pw")
    assert token_of(app)


def test_short_secret_is_refused_at_start():
    with pytest.raises(auth.AuthConfigError, match="token_secret must have at least 16"):
        make_app(token_secret="short")


def test_hash_password_round_trip():
    stored = auth.hash_password("s3cret: with colon")
    parsed = PasswordHash.parse(stored)
    assert stored.startswith("scrypt.16384.8.1.")
    assert parsed.verify("s3cret: with colon")
    assert not parsed.verify("s3cret")
    assert auth.hash_password("s3cret: with colon") != stored  # salted


def test_hash_password_command():
    out = io.StringIO()
    assert auth.main(["hash-password", "--n", "16"], stdin=io.StringIO("pw\n"),
                     stdout=out) == 0
    assert PasswordHash.parse(out.getvalue().strip()).verify("pw")
    with pytest.raises(SystemExit):
        auth.main(["hash-password"], stdin=io.StringIO("\n"), stdout=io.StringIO())
    with pytest.raises(SystemExit):
        auth.main(["hash-password", "--n", "3"], stdin=io.StringIO("pw\n"),
                  stdout=io.StringIO())


def test_hash_password_module_entry_point(clock):
    """``python -m cluster_proxy.rest_api.auth hash-password``, as documented;
    its hash logs a user in."""
    proc = subprocess.run([sys.executable, "-m", "cluster_proxy.rest_api.auth",
                           "hash-password"], input="carol-pw\n", capture_output=True,
                          text=True, check=True)
    app = make_app(clock, users=[f"carol:{proc.stdout.strip()}:tenant-c:tenant"])
    assert token_of(app, user="carol", password="carol-pw")
    secret = subprocess.run([sys.executable, "-m", "cluster_proxy.rest_api.auth",
                             "gen-secret"], capture_output=True, text=True, check=True)
    assert make_app(clock, token_secret=secret.stdout.strip())


# --- noauth ----------------------------------------------------------------------


def test_noauth_lets_everything_through_as_admin(clock, caplog):
    with caplog.at_level("WARNING"):
        app = make_app(clock, strategy="noauth", users=["not even parsed"])
    assert "noauth" in caplog.text
    resp = call(app)
    assert resp.json["identity"] == {"user": "noauth", "tenant_id": None,
                                     "is_admin": True, "roles": ["admin"]}
    # clients that log in first still get a token
    resp = login(app, user="anyone", password="anything")
    assert resp.status_int == 200 and resp.json["key"]
