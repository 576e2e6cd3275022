"""Which remote ports a sync starts and stops following: from the ports the
topology changed, without walking the others (a counting view proves it)."""
import uuid

from midonet_ryu.datapath.port_map import PortMap
from midonet_ryu.topology.model import Host, Network, Port
from midonet_ryu.topology.snapshot import TopologySnapshot

HERE, OTHER, THIRD = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class CountingView(TopologySnapshot):
    """A topology that counts full listings of ports."""

    listings = 0

    def objects(self, cls):
        if cls is Port:
            self.listings += 1
        return super().objects(cls)


def world(n_remote=1000):
    net = Network(id=uuid.uuid4())
    remote = [Port(id=uuid.uuid4(), network_id=net.id, host_id=OTHER) for _ in range(n_remote)]
    view = CountingView([net, Host(id=HERE), Host(id=OTHER), *remote])
    return view, PortMap(HERE, view, {}), remote, net


def test_the_first_sync_follows_every_remote_port_then_only_the_changed_ones():
    view, ports, remote, net = world()
    first = ports.sync([])
    assert sorted(first.remote_moved) == sorted((p.id, OTHER) for p in remote)
    assert first.remote_gone == ()
    listed = view.listings
    idle = ports.sync([], changed_ports=[])
    assert (idle.remote_moved, idle.remote_gone) == ((), ())
    assert view.listings == listed  # a periodic sync does not walk the bridge


def test_a_port_moving_between_hosts_or_here_or_deleted_is_reported_once():
    view, ports, remote, net = world(3)
    ports.sync([])
    a, b, c = remote
    view.put(a.replace(host_id=THIRD))
    view.put(b.replace(host_id=HERE))
    view.remove(Port, c.id)
    new = Port(id=uuid.uuid4(), network_id=net.id, host_id=OTHER)
    view.put(new)
    changed = ports.sync([], changed_ports=[a.id, b.id, c.id, new.id])
    assert sorted(changed.remote_moved) == sorted([(a.id, THIRD), (new.id, OTHER)])
    assert sorted(changed.remote_gone) == sorted([b.id, c.id])
    again = ports.sync([], changed_ports=[a.id, b.id, c.id, new.id])
    assert (again.remote_moved, again.remote_gone) == ((), ())
    assert ports.remote_hosts == {a.id: THIRD, new.id: OTHER}


def test_a_full_sync_repairs_what_was_missed():
    view, ports, remote, net = world(2)
    ports.sync([])
    a, b = remote
    view.put(a.replace(host_id=THIRD))  # a change nobody reported
    full = ports.sync([], changed_ports=None)
    assert full.remote_moved == ((a.id, THIRD),) and full.remote_gone == ()
