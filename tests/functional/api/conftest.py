"""Fixtures for the REST API's functional tests: the session's ZooKeeper, one
real ``midonet-cluster`` process per test module (its own root), clients of
the lab users whose every answer is held against the OpenAPI document, and a
kazoo client on the same NSDB to check what the API wrote.

A module may set ``CLUSTER_OPTIONS`` (``[cluster]`` options) or
``AUTH_OPTIONS`` (``[auth]``) for its cluster.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from midonet_ryu.nsdb.client import make_client
from midonet_ryu.nsdb.hosts import register_host
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.store import Store
from tests.functional.api.api_client import ApiClient, OpenApiChecker
from tools.lab.cluster import ClusterProcess

# What the cluster logs when a request escaped as a 500 (the checker fails
# the request itself; this catches answers a test did not look at)
_BUG_MARK = "ERROR cluster_proxy.rest_api"


@pytest.fixture(scope="module")
def cluster(zk_server, request) -> Iterator[ClusterProcess]:
    name = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    proc = ClusterProcess(zk_server.hosts, root=f"/{name}-{uuid.uuid4().hex[:8]}",
                          auth_opts=getattr(request.module, "AUTH_OPTIONS", None),
                          **getattr(request.module, "CLUSTER_OPTIONS", {}))
    proc.start()
    try:
        yield proc
    finally:
        proc.cleanup()


@pytest.fixture(autouse=True)
def _cluster_stays_healthy(request) -> Iterator[None]:
    """After each test that used the cluster: the process still runs and
    logged no request that failed inside the API."""
    if "cluster" not in request.fixturenames:
        yield
        return
    proc: ClusterProcess = request.getfixturevalue("cluster")
    start = proc.log_size()
    yield
    proc.assert_healthy_since(start, _BUG_MARK)


@pytest.fixture(scope="module")
def checker(cluster) -> OpenApiChecker:
    return OpenApiChecker.for_cluster(cluster.api_url)


@pytest.fixture(scope="module")
def client_of(cluster, checker) -> Callable[..., ApiClient]:
    """``client_of("alice")``: a client logged in as a lab user;
    ``client_of(None)``: one without a token."""

    def make(user: str | None, project: str | None = None) -> ApiClient:
        client = ApiClient(cluster.api_url, checker)
        return client.login(user, project=project) if user else client

    return make


@pytest.fixture(scope="module")
def admin(client_of) -> ApiClient:
    return client_of("admin")


@pytest.fixture(scope="module")
def alice(client_of) -> ApiClient:
    return client_of("alice")


@pytest.fixture(scope="module")
def bob(client_of) -> ApiClient:
    return client_of("bob")


@pytest.fixture(scope="module")
def anonymous(client_of) -> ApiClient:
    return client_of(None)


@pytest.fixture(scope="module")
def nsdb_zk(zk_server):
    client = make_client(zk_server.hosts, session_timeout_ms=10000)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture(scope="module")
def paths(cluster) -> Paths:
    return Paths(cluster.root)


@pytest.fixture(scope="module")
def nsdb(nsdb_zk, paths) -> Store:
    """The cluster's NSDB, read directly: what the API wrote must be here."""
    return Store(nsdb_zk, paths)


class Agent:
    """A host as its agent registers it: the Host object and the ``alive``
    key of its own ZooKeeper session (gone when :meth:`stop` closes it)."""

    def __init__(self, zk_hosts: str, paths: Paths, name: str) -> None:
        self.id = uuid.uuid4()
        self.name = name
        self.zk = make_client(zk_hosts, session_timeout_ms=10000)
        self.zk.start(timeout=15)
        self.keys = StateKeys(self.zk, paths, self.id)
        register_host(Store(self.zk, paths), self.keys, self.id, name)

    def publish_interfaces(self, interfaces: list[dict[str, Any]]) -> None:
        self.keys.set("Host", self.id, "interfaces", json.dumps(interfaces).encode())

    def stop(self) -> None:
        if self.zk.connected:
            self.zk.stop()
            self.zk.close()


@pytest.fixture
def agent(zk_server, paths) -> Iterator[Callable[[str], Agent]]:
    """``agent("hv1")``: a registered, alive host (stopped after the test)."""
    agents: list[Agent] = []

    def make(name: str = "hv") -> Agent:
        a = Agent(zk_server.hosts, paths, name)
        agents.append(a)
        return a

    yield make
    for a in agents:
        a.stop()
