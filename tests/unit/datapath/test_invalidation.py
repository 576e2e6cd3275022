"""Precise invalidation: a VM port's change removes exactly the flows that
depended on it, on the model switch of ``test_flow_setup``'s world (VMs a, b
here and c on another host on network A; d here behind a router)."""
from __future__ import annotations

import uuid

from midonet_ryu.datapath.invalidation import topology_change_tags
from midonet_ryu.simulation import packet_builders as pb
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.topology.model import Host, Network, Port
from midonet_ryu.topology.router import Route, Router
from tests.unit.datapath.test_flow_setup import OTHER, REMOTE_KEY, World


def change(w: World, kind: type, old, new) -> None:
    """What the agent does for a topology event: apply it, invalidate its tags."""
    obj_id = (new or old).id
    if new is None:
        w.s.topology.remove(kind, obj_id)
    else:
        w.s.put(new)
    w.invalidate(topology_change_tags(kind.__name__, obj_id, old, new))


def boot_remote_vm(w: World) -> Port:
    """A new VM on network A, bound on the other host: the port, and the
    back-references the store rewrites with it."""
    port = Port(id=uuid.uuid4(), network_id=w.net_a.id, host_id=OTHER)
    w.remote[port.id] = (OTHER, REMOTE_KEY + 1)
    change(w, Port, None, port)
    net = w.s.get(Network, w.net_a.id)
    change(w, Network, net, net.replace(port_ids=net.port_ids + (port.id,)))
    host = w.s.get(Host, OTHER)
    change(w, Host, host, host.replace(port_ids=host.port_ids + (port.id,)))
    return port


def paths(w: World):
    """Frames of flows that do not depend on a new VM, and a flood that does."""
    router_mac = w.s.get(Port, w.rport_a.id).port_mac
    routed = pb.udp_frame(w.a.mac, router_mac, w.a.ip, w.d.ip, 1000, 53, b"x")
    kept = {"a->b": (w.a, w.udp(w.a, w.b)), "b->a": (w.b, w.udp(w.b, w.a)),
            "a->c": (w.a, w.udp(w.a, w.c)), "a->d": (w.a, routed)}
    flood = (w.a, pb.arp_request(w.a.mac, w.a.ip, ip_to_int("10.0.1.99")))
    for vm, frame in (*kept.values(), flood):
        w.send(vm, frame)
        assert not w.where(vm, frame).controller
    return kept, flood


def cached(w: World, vm, frame) -> bool:
    return not w.where(vm, frame).controller


def test_booting_a_vm_removes_only_the_network_floods():
    w = World()
    kept, flood = paths(w)
    before = len(w.switch.simulated_flows())
    port = boot_remote_vm(w)
    assert all(cached(w, vm, frame) for vm, frame in kept.values())
    assert not cached(w, *flood)
    assert len(w.switch.simulated_flows()) == before - 1  # the flood alone
    w.send(*flood)  # simulated again: it reaches the new VM too
    tunnelled = sorted(o.tunnel_id for o in w.where(*flood).outputs if o.tunnel_id)
    assert tunnelled == [REMOTE_KEY, REMOTE_KEY + 1]
    assert port.id in w.remote


def test_disabling_a_vm_removes_the_flows_through_it_and_the_floods_to_it():
    w = World()
    kept, flood = paths(w)
    b = w.s.get(Port, w.b.port_id)
    change(w, Port, b, b.replace(admin_state_up=False))
    assert not cached(w, *kept["a->b"]) and not cached(w, *kept["b->a"])
    assert not cached(w, *flood)
    assert cached(w, *kept["a->c"]) and cached(w, *kept["a->d"])
    w.send(*kept["a->b"])
    assert w.where(*kept["a->b"]).outputs == ()  # dropped at b's port now


def test_deleting_a_vm_removes_the_flows_to_it():
    w = World()
    kept, flood = paths(w)
    c = w.s.get(Port, w.c.port_id)
    change(w, Port, c, None)
    assert not cached(w, *kept["a->c"]) and not cached(w, *flood)
    assert cached(w, *kept["a->b"]) and cached(w, *kept["a->d"])


def test_a_vlan_port_invalidates_only_its_vlan_floods_a_trunk_all():
    w = World()
    access = Port(id=uuid.uuid4(), network_id=w.net_a.id, vlan_id=10)
    trunk = Port(id=uuid.uuid4(), network_id=w.net_a.id)
    assert ("flood", w.net_a.id, 10) in topology_change_tags("Port", access.id, None, access)
    assert ("floods", w.net_a.id) not in topology_change_tags("Port", access.id, None, access)
    assert ("floods", w.net_a.id) in topology_change_tags("Port", trunk.id, None, trunk)


def test_a_router_link_still_invalidates_its_network():
    w = World()
    kept, _ = paths(w)
    link = w.s.get(Port, w.s.get(Port, w.rport_a.id).peer_id)
    assert link.network_id == w.net_a.id
    change(w, Port, link, link.replace(name="renamed"))
    assert not cached(w, *kept["a->b"])  # the bridge's router maps may have changed


def test_a_network_change_beyond_its_port_list_invalidates_it():
    w = World()
    kept, _ = paths(w)
    net = w.s.get(Network, w.net_a.id)
    change(w, Network, net, net.replace(name="renamed", port_ids=net.port_ids[:-1]))
    assert not cached(w, *kept["a->b"])


def add_route(w: World, dst: str) -> Route:
    route = Route(id=uuid.uuid4(), dst_subnet=dst, next_hop_port_id=w.rport_b.id,
                  router_id=w.router.id)
    change(w, Route, None, route)
    router = w.s.get(Router, w.router.id)
    change(w, Router, router, router.replace(route_ids=router.route_ids + (route.id,)))
    return route


def test_an_unrelated_route_leaves_every_flow_in_place():
    w = World()
    kept, flood = paths(w)
    before = len(w.switch.simulated_flows())
    add_route(w, "192.0.2.0/24")
    assert len(w.switch.simulated_flows()) == before
    assert all(cached(w, vm, frame) for vm, frame in kept.values())


def test_a_more_specific_route_takes_the_flows_it_now_wins_and_only_those():
    w = World()
    kept, flood = paths(w)
    before = len(w.switch.simulated_flows())
    route = add_route(w, "10.0.2.10/32")  # d's address: the routed flow to d
    assert not cached(w, *kept["a->d"])
    assert len(w.switch.simulated_flows()) == before - 1
    w.send(*kept["a->d"])
    assert cached(w, *kept["a->d"])
    # the flow now uses the new route: deleting it removes that flow again
    change(w, Route, route, None)
    assert not cached(w, *kept["a->d"])
    assert cached(w, *kept["a->b"]) and cached(w, *kept["a->c"])


def test_a_less_specific_route_leaves_the_flows_of_a_longer_match():
    w = World()
    kept, _ = paths(w)
    add_route(w, "10.0.0.0/16")  # d is reached by its /24 port route, longer
    assert cached(w, *kept["a->d"])
