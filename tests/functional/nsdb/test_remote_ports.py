"""Remote ports' locations and their hosts' liveness, on a real ZooKeeper:
a host whose session ends is down after the hold, and up again when a new
session registers it; a host re-registered within the hold never goes down."""
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.remote_ports import RemotePorts
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.store import Store
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional
HOLD = 0.5


def call_later(seconds, func):
    timer = threading.Timer(seconds, func)
    timer.daemon = True
    timer.start()


class RemoteHost:
    """Another host's agent: its own session, alive key and one active port."""

    def __init__(self, zk_server, root, host_id, port_id, key):
        self.client = KazooClient(hosts=zk_server.hosts, timeout=10)
        self.client.start(timeout=15)
        keys = StateKeys(self.client, Paths(root), host_id)
        hosts.register_host(Store(self.client, Paths(root)), keys, host_id, "remote")
        hosts.publish_port_active(keys, port_id, key)

    def end_session(self):
        self.client.stop()
        self.client.close()


@pytest.fixture
def watched(zk_server, zk_client, zk_root):
    host_id, port_id = uuid.uuid4(), uuid.uuid4()
    moved, host_changes = [], []
    remote = RemotePorts(zk_client, Paths(zk_root), moved.append, host_changes.append,
                         call_later, HOLD)
    started = []

    def start(key=7):
        h = RemoteHost(zk_server, zk_root, host_id, port_id, key)
        started.append(h)
        return h

    yield remote, host_id, port_id, start, moved, host_changes
    for h in started:
        if h.client.connected:
            h.end_session()


def test_a_host_whose_session_ended_is_down_until_it_registers_again(watched):
    remote, host_id, port_id, start, moved, host_changes = watched
    first = start(key=7)
    remote.update([(port_id, host_id)], [])
    wait_until(lambda: remote.active.get(port_id) == (host_id, 7), 10, what="port located")
    assert remote.down_hosts == set() and remote.ports_of(host_id) == [port_id]
    first.end_session()
    gone = time.monotonic()
    wait_until(lambda: host_id in remote.down_hosts, 10, what="host down")
    assert time.monotonic() - gone >= HOLD
    assert host_changes == [host_id]
    # the port keeps its last location; its host being down is what hides it
    assert remote.active[port_id] == (host_id, 7)
    start(key=9)
    wait_until(lambda: host_id not in remote.down_hosts, 10, what="host up again")
    assert host_changes == [host_id, host_id]
    wait_until(lambda: remote.active.get(port_id) == (host_id, 9), 10, what="the new key")


def test_a_host_back_within_the_hold_never_goes_down(watched):
    remote, host_id, port_id, start, moved, host_changes = watched
    first = start()
    remote.update([(port_id, host_id)], [])
    wait_until(lambda: port_id in remote.active, 10, what="port located")
    first.end_session()
    start()  # an agent restarted at once, in a new session
    time.sleep(HOLD * 3)
    assert host_changes == [] and remote.down_hosts == set()


def test_an_untracked_host_is_forgotten(watched):
    remote, host_id, port_id, start, moved, host_changes = watched
    first = start()
    remote.update([(port_id, host_id)], [])
    wait_until(lambda: port_id in remote.active, 10, what="port located")
    first.end_session()
    wait_until(lambda: host_id in remote.down_hosts, 10, what="host down")
    remote.update([], [port_id])
    assert remote.down_hosts == set() and remote.active == {}
    start()
    time.sleep(HOLD * 2)
    assert host_changes == [host_id]  # its old watch no longer reports


def test_a_port_moved_to_another_host_follows_that_hosts_key(watched, zk_server, zk_root):
    remote, host_id, port_id, start, moved, host_changes = watched
    start(key=7)
    remote.update([(port_id, host_id)], [])
    wait_until(lambda: remote.active.get(port_id) == (host_id, 7), 10, what="port located")
    second = uuid.uuid4()
    other = RemoteHost(zk_server, zk_root, second, port_id, 11)
    try:
        remote.update([(port_id, second)], [])
        assert port_id not in remote.active or remote.active[port_id][0] == second
        wait_until(lambda: remote.active.get(port_id) == (second, 11), 10,
                   what="the port at its new host")
        assert remote.ports_of(host_id) == [] and remote.ports_of(second) == [port_id]
        remote.update([], [port_id])
        assert remote.active == {} and remote.host_of(port_id) is None
    finally:
        other.end_session()
