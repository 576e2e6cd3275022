"""The REST API behind keystonemiddleware's auth_token ([auth] strategy =
keystone), with keystonemiddleware's own AuthTokenFixture standing in for
Keystone: the middleware runs for real, only token validation is faked."""
from __future__ import annotations

import pytest
import webob
from keystonemiddleware.fixture import AuthTokenFixture
from oslo_config import cfg

from cluster_proxy.rest_api import auth
from cluster_proxy.rest_api.errors import ERROR_MEDIA_TYPE
from midonet_ryu.conf import auth as auth_conf
from tests.unit.rest_api.test_auth import echo

BASE = "/midonet-api"
KEYSTONE = "http://keystone.invalid/identity/v3"


@pytest.fixture
def tokens():
    with AuthTokenFixture() as fixture:
        fixture.add_token_data(token_id="tenant-token", user_id="u-alice", user_name="alice",
                               project_id="tenant-a", role_list=["member", "reader"])
        fixture.add_token_data(token_id="admin-token", user_id="u-root", user_name="root",
                               project_id="admin-project", role_list=["admin"])
        fixture.add_token_data(token_id="unscoped-token", user_id="u-bob", user_name="bob")
        yield fixture


# A node's [keystone_authtoken]: where clients get tokens, and the service
# credentials keystonemiddleware validates them with (never used here: the
# fixture answers instead of Keystone).
KEYSTONE_AUTHTOKEN = f"""
[keystone_authtoken]
www_authenticate_uri = {KEYSTONE}
auth_type = password
auth_url = {KEYSTONE}
username = midonet
password = service-pw
project_name = service
user_domain_id = default
project_domain_id = default
"""


def keystone_conf(tmp_path, authtoken: str = KEYSTONE_AUTHTOKEN) -> cfg.ConfigOpts:
    path = tmp_path / "midonet_ryu.conf"
    path.write_text("[auth]\nstrategy = keystone\n" + authtoken)
    conf = cfg.ConfigOpts()
    auth_conf.register_opts(conf)
    conf(["--config-file", str(path)], default_config_files=[])
    return conf


@pytest.fixture
def app(tmp_path, tokens):
    """The keystone strategy configured from a file, as a node would be: the
    [keystone_authtoken] options are read from the same ConfigOpts."""
    conf = keystone_conf(tmp_path)
    wrapped = auth.wrap(echo, conf, base_path=BASE)
    assert conf.keystone_authtoken.username == "midonet"
    return wrapped


@pytest.mark.parametrize("authtoken, missing", [
    ("", "www_authenticate_uri"),
    (f"[keystone_authtoken]\nwww_authenticate_uri = {KEYSTONE}\n", "auth_type"),
], ids=["nothing", "no-credentials"])
def test_incomplete_keystone_config_is_refused_at_start(tmp_path, authtoken, missing):
    with pytest.raises(auth.AuthConfigError, match=missing):
        auth.wrap(echo, keystone_conf(tmp_path, authtoken))


def call(app, path=f"{BASE}/bridges", token=None, **kw):
    headers = kw.pop("headers", {})
    if token is not None:
        headers["X-Auth-Token"] = token
    return webob.Request.blank(path, headers=headers, **kw).get_response(app)


def refusal(resp, status: int) -> str:
    assert resp.status_int == status, resp.text
    assert resp.content_type == ERROR_MEDIA_TYPE
    assert resp.json["code"] == status
    return resp.json["message"]


def test_project_token_reaches_app_as_tenant(app):
    resp = call(app, token="tenant-token")
    assert resp.status_int == 200, resp.text
    assert resp.json["identity"] == {"user": "alice", "tenant_id": "tenant-a",
                                     "is_admin": False, "roles": ["member", "reader"]}


def test_admin_token_reaches_app_as_admin(app):
    ident = call(app, token="admin-token").json["identity"]
    assert ident == {"user": "root", "tenant_id": "admin-project", "is_admin": True,
                     "roles": ["admin"]}


def test_session_cookie_is_accepted_too(app):
    resp = call(app, headers={"Cookie": "sessionId=tenant-token"})
    assert resp.json["identity"]["user"] == "alice"


def test_invalid_token_is_401(app):
    resp = call(app, token="no-such-token")
    assert refusal(resp, 401) == "invalid or expired Keystone token"
    # where to get a token, as keystonemiddleware tells it; not our Basic realm
    assert resp.headers.getall("WWW-Authenticate") == [f'Keystone uri="{KEYSTONE}"']


def test_missing_token_is_401(app):
    assert "missing token" in refusal(call(app), 401)


def test_forged_identity_headers_are_ignored(app):
    """keystonemiddleware strips identity headers a client sends itself."""
    forged = {"X-Identity-Status": "Confirmed", "X-User-Name": "root", "X-Roles": "admin",
              "X-Project-Id": "tenant-a"}
    assert refusal(call(app, headers=dict(forged)), 401)
    ident = call(app, token="tenant-token", headers=dict(forged)).json["identity"]
    assert ident["user"] == "alice" and not ident["is_admin"]


def test_token_without_project_is_401_for_non_admin(app):
    assert "not scoped to a project" in refusal(call(app, token="unscoped-token"), 401)


def test_login_answers_use_keystone(app):
    resp = call(app, f"{BASE}/login", method="POST",
                headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert "obtain a token from Keystone" in refusal(resp, 400)


def test_public_and_outside_paths_skip_keystone(app):
    assert call(app, f"{BASE}/openapi.json").json["identity"] is None
    assert call(app, "/elsewhere").json == {"path": "/elsewhere", "identity": None}


def test_admin_roles_option():
    mw = auth._KeystoneIdentity(echo, ["Cloud-Admin"])
    headers = {"X-Identity-Status": "Confirmed", "X-Auth-Token": "t", "X-User-Id": "u1",
               "X-Roles": "member,cloud-admin"}
    assert mw.identify(headers) == auth.Identity("u1", None, True, ("member", "cloud-admin"))
    headers["X-Service-Identity-Status"] = "Invalid"
    with pytest.raises(auth.ApiError, match="service token"):
        mw.identify(headers)
