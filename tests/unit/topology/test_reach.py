"""What a loaded object leads to: a device's parts, never the devices beyond."""
import uuid

from midonet_ryu.topology import reach
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import Chain, Condition, Rule

ids = [uuid.UUID(int=i) for i in range(1, 20)]


def test_a_network_leads_to_its_ports_and_filters_not_to_the_router_beyond():
    net = Network(id=ids[0], port_ids=(ids[1], ids[2]), inbound_filter_id=ids[3])
    assert set(reach.leads(net)) == {("Port", ids[1]), ("Port", ids[2]), ("Chain", ids[3])}
    bridge_side = Port(id=ids[2], network_id=ids[0], peer_id=ids[4])
    router_side = Port(id=ids[4], router_id=ids[5], peer_id=ids[2])
    assert set(reach.leads(bridge_side)) == {("Port", ids[4])}
    assert ("Router", ids[5]) not in set(reach.leads(router_side))
    # what a miss on a port prefetches: its leads and its device
    assert ("Router", ids[5]) in set(reach.prefetch(router_side))


def test_rules_lead_to_jump_chains_and_the_groups_their_conditions_name():
    r = Rule(id=ids[0], chain_id=ids[1], jump_chain_id=ids[2],
             condition=Condition(ip_addr_group_id_src=ids[3], in_port_group_id=ids[4]))
    assert set(reach.leads(r)) == {("Chain", ids[2]), ("IPAddrGroup", ids[3]),
                                   ("PortGroup", ids[4])}


def test_in_use_is_what_the_roots_lead_to():
    objs = {("Network", ids[0]): Network(id=ids[0], port_ids=(ids[1],)),
            ("Port", ids[1]): Port(id=ids[1], network_id=ids[0], peer_id=ids[2]),
            ("Port", ids[2]): Port(id=ids[2], router_id=ids[3], peer_id=ids[1]),
            ("Router", ids[3]): Router(id=ids[3], port_ids=(ids[2], ids[4])),
            ("Port", ids[4]): Port(id=ids[4], router_id=ids[3], inbound_filter_id=ids[5]),
            ("Chain", ids[5]): Chain(id=ids[5])}
    used = reach.in_use(objs.get, [("Network", ids[0])])
    # the network, its port and that port's peer; not the router or its other parts
    assert used == {("Network", ids[0]), ("Port", ids[1]), ("Port", ids[2])}
    both = reach.in_use(objs.get, [("Network", ids[0]), ("Router", ids[3])])
    assert both == set(objs)
