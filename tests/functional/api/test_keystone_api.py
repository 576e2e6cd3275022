"""``[auth] strategy = keystone`` in front of the real API on a real ZooKeeper:
keystonemiddleware's auth_token runs for real, only Keystone's validation of
tokens is faked (its AuthTokenFixture), so this runs in process rather than in a
cluster daemon. A project's token is that tenant's user; an admin role sees
every tenant."""
from __future__ import annotations

import json

import pytest
import webob
from keystonemiddleware.fixture import AuthTokenFixture
from oslo_config import cfg

from cluster_proxy.framework import ClusterContext
from cluster_proxy.rest_api.auth import wrap
from cluster_proxy.rest_api.factory import build_api
from midonet_ryu.conf import register_all
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Network
from tests.unit.rest_api.test_auth_keystone import KEYSTONE_AUTHTOKEN

pytestmark = pytest.mark.functional
BASE = "/midonet-api"


@pytest.fixture
def app(tmp_path, zk_client, zk_root):
    path = tmp_path / "cluster.conf"
    path.write_text("[auth]\nstrategy = keystone\n" + KEYSTONE_AUTHTOKEN)
    conf = register_all(cfg.ConfigOpts())
    conf(["--config-file", str(path)], default_config_files=[])
    context = ClusterContext(conf, zk_client, Paths(zk_root))
    api = build_api(Store(zk_client, context.paths), context)
    with AuthTokenFixture() as tokens:
        tokens.add_token_data(token_id="alice-token", user_id="u-a", user_name="alice",
                              project_id="tenant-a", role_list=["member"])
        tokens.add_token_data(token_id="bob-token", user_id="u-b", user_name="bob",
                              project_id="tenant-b", role_list=["member"])
        tokens.add_token_data(token_id="admin-token", user_id="u-r", user_name="root",
                              project_id="admin-project", role_list=["admin"])
        yield wrap(api, conf, base_path=BASE)


def call(app, token, method, path, body=None):
    req = webob.Request.blank(BASE + path, method=method)
    if token:
        req.headers["X-Auth-Token"] = token
    if body is not None:
        req.content_type = "application/json"
        req.body = json.dumps(body).encode()
    resp = req.get_response(app)
    return resp.status_int, (json.loads(resp.body) if resp.body else None)


def test_keystone_tokens_are_tenants_and_admins(app, store):
    status, mine = call(app, "alice-token", "POST", "/bridges", {"name": "a-net"})
    assert status == 201 and mine["tenantId"] == "tenant-a"  # the project is the tenant
    assert store.get(Network, __import__("uuid").UUID(mine["id"])).tenant_id == "tenant-a"
    status, theirs = call(app, "bob-token", "POST", "/bridges", {"name": "b-net"})
    assert status == 201 and theirs["tenantId"] == "tenant-b"
    assert [b["name"] for b in call(app, "alice-token", "GET", "/bridges")[1]] == ["a-net"]
    assert call(app, "alice-token", "GET", f"/bridges/{theirs['id']}")[0] == 403
    assert call(app, "alice-token", "POST", f"/bridges/{theirs['id']}/ports", {})[0] == 403
    status, every = call(app, "admin-token", "GET", "/bridges")
    assert status == 200 and {b["name"] for b in every} == {"a-net", "b-net"}
    assert call(app, "not-a-token", "GET", "/bridges")[0] == 401
    assert call(app, None, "GET", "/bridges")[0] == 401
    status, refused = call(app, None, "POST", "/login")
    assert status == 400 and "Keystone" in refused["message"]
