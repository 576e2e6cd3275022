"""The interested set: ingress and egress hosts, widened by stateful port groups."""
from __future__ import annotations

import uuid

from midonet_ryu.flowstate.peers import interested_hosts
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.rules import PortGroup
from midonet_ryu.topology.snapshot import TopologySnapshot

H = [uuid.UUID(int=100 + i) for i in range(6)]
ME = H[0]


class World:
    def __init__(self) -> None:
        self.t = TopologySnapshot()
        self.net = Network(id=uuid.uuid4())
        self.t.put(self.net)

    def port(self, host: uuid.UUID | None) -> Port:
        p = Port(id=uuid.uuid4(), network_id=self.net.id, host_id=host)
        self.t.put(p)
        return p

    def group(self, *ports: Port, stateful: bool) -> PortGroup:
        g = PortGroup(id=uuid.uuid4(), stateful=stateful, port_ids=tuple(p.id for p in ports))
        self.t.put(g)
        for p in ports:  # the store keeps this back-reference
            cur = self.t.get(Port, p.id)
            self.t.put(cur.replace(port_group_ids=cur.port_group_ids + (g.id,)))
        return g


def test_ingress_and_egress_hosts_but_not_this_one():
    w = World()
    a, b, c = w.port(ME), w.port(H[1]), w.port(H[2])
    assert interested_hosts(w.t, a.id, [b.id, c.id], ME) == {H[1], H[2]}
    # forward flow entering elsewhere and leaving here: the ingress host is told
    assert interested_hosts(w.t, b.id, [a.id], ME) == {H[1]}


def test_local_only_flow_has_no_peers():
    w = World()
    a, b = w.port(ME), w.port(ME)
    assert interested_hosts(w.t, a.id, [b.id], ME) == set()


def test_stateful_group_of_an_egress_port_adds_every_members_host():
    w = World()
    vm = w.port(ME)
    up1, up2, up3 = w.port(H[1]), w.port(H[2]), w.port(H[3])
    w.group(up1, up2, up3, stateful=True)
    other = w.port(H[4])
    assert interested_hosts(w.t, vm.id, [up1.id], ME) == {H[1], H[2], H[3]}
    # a flow not touching the group is not widened
    assert interested_hosts(w.t, vm.id, [other.id], ME) == {H[4]}


def test_stateful_group_of_the_ingress_port_widens_too():
    w = World()
    up1, up2 = w.port(H[1]), w.port(H[2])
    vm = w.port(ME)
    w.group(vm, w.port(H[5]), stateful=True)
    assert interested_hosts(w.t, vm.id, [up1.id], ME) == {H[1], H[5]}
    assert H[2] not in interested_hosts(w.t, vm.id, [up1.id], ME)
    del up2


def test_non_stateful_group_does_not_widen():
    w = World()
    vm = w.port(ME)
    up1, up2 = w.port(H[1]), w.port(H[2])
    w.group(up1, up2, stateful=False)
    assert interested_hosts(w.t, vm.id, [up1.id], ME) == {H[1]}


def test_unbound_members_unknown_ports_and_floods():
    w = World()
    vm = w.port(ME)
    interior = w.port(None)
    up1 = w.port(H[1])
    w.group(up1, interior, stateful=True)
    ghost = uuid.uuid4()  # deleted meanwhile
    flood = [w.port(H[2]).id, w.port(H[3]).id, up1.id, ghost]
    assert interested_hosts(w.t, vm.id, flood, ME) == {H[1], H[2], H[3]}
    assert interested_hosts(w.t, ghost, [], ME) == set()
