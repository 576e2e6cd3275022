"""Host registration, liveness, tunnel zones and port activity."""
import uuid

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Host, Network, Port, TunnelZone

pytestmark = pytest.mark.functional


def test_register_and_alive_dies_with_session(zk_server, store, zk_root):
    host_id = uuid.uuid4()
    agent = KazooClient(hosts=zk_server.hosts)
    agent.start()
    keys = StateKeys(agent, Paths(zk_root), host_id)
    hosts.register_host(Store(agent, Paths(zk_root)), keys, host_id, "hv1")
    observer = StateKeys(store.client, Paths(zk_root), uuid.uuid4())
    assert store.get(Host, host_id).name == "hv1"
    assert hosts.host_alive(observer, host_id)
    agent.stop()
    agent.close()
    assert not hosts.host_alive(observer, host_id)
    assert store.get(Host, host_id).name == "hv1"  # the object itself persists


def test_restore_recreates_ephemeral_keys(zk_client, zk_root):
    keys = StateKeys(zk_client, Paths(zk_root), uuid.uuid4())
    keys.set("Port", uuid.UUID(int=5), "active", b"x")
    zk_client.delete(keys.path("Port", uuid.UUID(int=5), "active"))
    assert keys.restore() == 1
    assert keys.get("Port", uuid.UUID(int=5), "active") == b"x"


def test_join_tunnel_zone_is_idempotent_and_updates_ip(store):
    h1 = store.create(Host(id=uuid.uuid4()))
    h2 = store.create(Host(id=uuid.uuid4()))
    hosts.join_tunnel_zone(store, "overlay", h1.id, "192.0.2.1")
    hosts.join_tunnel_zone(store, "overlay", h2.id, "192.0.2.2")
    tz = hosts.join_tunnel_zone(store, "overlay", h1.id, "192.0.2.11")
    assert len(store.list(TunnelZone)) == 1
    assert tz.ip_of(h1.id) == "192.0.2.11" and tz.ip_of(h2.id) == "192.0.2.2"
    assert store.get(Host, h1.id).tunnel_zone_ids == (tz.id,)
    hosts.leave_tunnel_zone(store, tz.id, h1.id)
    assert store.get(TunnelZone, tz.id).ip_of(h1.id) is None
    assert store.get(Host, h1.id).tunnel_zone_ids == ()


def test_bind_port_and_active_state(store, zk_client, zk_root):
    net = store.create(Network(id=uuid.uuid4()))
    host = store.create(Host(id=uuid.uuid4()))
    port = store.create(Port(id=uuid.uuid4(), network_id=net.id))
    hosts.bind_port(store, port.id, host.id, "tap0")
    assert store.get(Host, host.id).port_ids == (port.id,)
    keys = StateKeys(zk_client, Paths(zk_root), host.id)
    hosts.publish_port_active(keys, port.id, 0x100007)
    data = keys.get("Port", port.id, "active", namespace=host.id)
    assert hosts.decode_port_active(data) == (host.id, 0x100007)
    assert hosts.decode_port_active(b"{bad") is None
    hosts.unbind_port(store, port.id)
    assert store.get(Host, host.id).port_ids == ()
