"""DHCP answered by the agent."""
from __future__ import annotations

import struct
import uuid

from midonet_ryu.simulation import packet_builders
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.packet import l4_payload, parse_frame
from midonet_ryu.simulation.packet_builders import (
    DHCP_ACK,
    DHCP_DISCOVER,
    DHCP_NAK,
    DHCP_OFFER,
    DHCP_REQUEST,
)
from midonet_ryu.simulation.result import ResultKind
from midonet_ryu.topology.dhcp import Dhcp, DhcpHost, DhcpRoute
from midonet_ryu.topology.model import Network, Port
from tools.scenario import Scenario


def dhcp_net(enabled=True):
    s = Scenario()
    net = s.network()
    vm, other = s.vm_port(net), s.vm_port(net)
    dhcp = Dhcp(id=uuid.uuid4(), network_id=net.id, subnet_address="10.0.0.0/24",
                server_address="10.0.0.2", default_gateway="10.0.0.1",
                dns_server_address=("8.8.8.8", "1.1.1.1"), interface_mtu=1450, lease_time=3600,
                enabled=enabled, hosts=(DhcpHost(vm.mac, "10.0.0.5"),))
    s.put(dhcp)
    s.update(s.get(Network, net.id), dhcp_ids=(dhcp.id,))
    return s, vm, other


def ask(s, vm, msg_type, requested=None, xid=0x1234):
    frame = packet_builders.dhcp_request_frame(vm.mac, msg_type, xid, requested)
    return s.simulate(parse_frame(frame, vm.port_id))


def reply_of(res):
    (gen,) = res.generated
    m = parse_frame(gen.frame, None)
    msg = l4_payload(m)
    return gen, m, msg, packet_builders.parse_dhcp_options(msg)


def test_discover_gets_an_offer_with_all_options():
    s, vm, _ = dhcp_net()
    res = ask(s, vm, DHCP_DISCOVER)
    assert res.kind is ResultKind.CONSUMED
    gen, m, msg, opts = reply_of(res)
    assert gen.port_id == vm.port_id and m.eth_dst == vm.mac and (m.tp_src, m.tp_dst) == (67, 68)
    assert opts[53] == bytes([DHCP_OFFER])
    assert struct.unpack("!I", msg[4:8])[0] == 0x1234  # xid echoed
    assert struct.unpack("!I", msg[16:20])[0] == ip_to_int("10.0.0.5")  # yiaddr
    assert opts[1] == struct.pack("!I", 0xFFFFFF00)
    assert opts[3] == struct.pack("!I", ip_to_int("10.0.0.1"))
    assert opts[6] == struct.pack("!II", ip_to_int("8.8.8.8"), ip_to_int("1.1.1.1"))
    assert opts[26] == struct.pack("!H", 1450) and opts[51] == struct.pack("!I", 3600)
    assert opts[54] == struct.pack("!I", ip_to_int("10.0.0.2"))


def test_host_routes_go_out_as_option_121():
    s, vm, _ = dhcp_net()
    (dhcp_id,) = s.get(Network, s.get(Port, vm.port_id).network_id).dhcp_ids
    s.update(s.get(Dhcp, dhcp_id), opt121_routes=(DhcpRoute("0.0.0.0/0", "10.0.0.1"),
                                  DhcpRoute("192.0.2.0/24", "10.0.0.9"),
                                  DhcpRoute("198.51.100.128/25", "10.0.0.10")))
    _, _, _, opts = reply_of(ask(s, vm, DHCP_DISCOVER))
    # RFC 3442: width, significant octets of the destination, router
    assert opts[121] == (bytes([0]) + bytes([10, 0, 0, 1])
                         + bytes([24, 192, 0, 2]) + bytes([10, 0, 0, 9])
                         + bytes([25, 198, 51, 100, 128]) + bytes([10, 0, 0, 10]))


def test_request_gets_ack_and_wrong_address_gets_nak():
    s, vm, _ = dhcp_net()
    assert reply_of(ask(s, vm, DHCP_REQUEST, ip_to_int("10.0.0.5")))[3][53] == bytes([DHCP_ACK])
    assert reply_of(ask(s, vm, DHCP_REQUEST, ip_to_int("10.0.0.9")))[3][53] == bytes([DHCP_NAK])


def test_unknown_client_and_disabled_subnet_are_bridged():
    s, vm, other = dhcp_net()
    res = ask(s, other, DHCP_DISCOVER)
    assert res.kind is ResultKind.FORWARD and res.generated == ()
    s2, vm2, _ = dhcp_net(enabled=False)
    assert ask(s2, vm2, DHCP_DISCOVER).kind is ResultKind.FORWARD


def test_malformed_dhcp_is_dropped():
    s, vm, _ = dhcp_net()
    frame = packet_builders.udp_frame(vm.mac, "ff:ff:ff:ff:ff:ff", 0, 0xFFFFFFFF, 68, 67, b"junk")
    res = s.simulate(parse_frame(frame, vm.port_id))
    assert res.kind is ResultKind.DROP and "malformed" in res.reason


def test_reply_on_an_access_port_is_untagged():
    s = Scenario()
    net = s.network()
    vm = s.vm_port(net, vlan_id=30)
    dhcp = Dhcp(id=uuid.uuid4(), network_id=net.id, subnet_address="10.0.0.0/24",
                server_address="10.0.0.2", hosts=(DhcpHost(vm.mac, "10.0.0.5"),))
    s.put(dhcp)
    s.update(s.get(Network, net.id), dhcp_ids=(dhcp.id,))
    gen, m, _msg, opts = reply_of(ask(s, vm, DHCP_DISCOVER))
    assert m.vlan_id is None and opts[53] == bytes([DHCP_OFFER])
