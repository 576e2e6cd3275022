"""DHCP answered by the agent: a VM's DISCOVER gets an OFFER and its REQUEST
an ACK with the address, mask, router, DNS servers, MTU and lease time."""
import uuid

import pytest
from os_ken.lib import addrconv
from os_ken.lib.packet import dhcp, ethernet, ipv4, packet, udp

from midonet_ryu.topology.dhcp import Dhcp, DhcpHost

pytestmark = pytest.mark.functional


@pytest.fixture
def cloud(make_cloud):
    return make_cloud(1)


def dhcp_frame(mac: str, msg_type: int, xid: int, requested: str | None = None) -> bytes:
    options = [dhcp.option(dhcp.DHCP_MESSAGE_TYPE_OPT, bytes([msg_type]))]
    if requested:
        options.append(dhcp.option(dhcp.DHCP_REQUESTED_IP_ADDR_OPT,
                                   addrconv.ipv4.text_to_bin(requested)))
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src=mac, ethertype=0x0800))
    pkt.add_protocol(ipv4.ipv4(src="0.0.0.0", dst="255.255.255.255", proto=17))
    pkt.add_protocol(udp.udp(src_port=68, dst_port=67))
    pkt.add_protocol(dhcp.dhcp(op=dhcp.DHCP_BOOT_REQUEST, chaddr=mac, xid=xid,
                               options=dhcp.options(option_list=options)))
    pkt.serialize()
    return bytes(pkt.data)


def parse_dhcp(frame: bytes):
    return packet.Packet(frame).get_protocol(dhcp.dhcp)


def opts(reply) -> dict[int, bytes]:
    return {o.tag: o.value for o in reply.options.option_list}


def test_discover_offer_request_ack(cloud):
    (hv,) = cloud.hosts
    net = cloud.network("dhcp-net")
    mac = "02:00:00:00:0d:01"
    cloud.store.create(Dhcp(
        id=uuid.uuid4(), network_id=net.id, subnet_address="198.51.100.0/24",
        server_address="198.51.100.2", default_gateway="198.51.100.1",
        dns_server_address=("192.0.2.53",), interface_mtu=1450, lease_time=3600,
        hosts=(DhcpHost(mac=mac, ip_address="198.51.100.10"),)))
    port, vm = cloud.vm(hv, net, "vm-dhcp", mac=mac)
    cloud.wait_bound(hv, port)
    cloud.wait_converged([port])

    vm.send(dhcp_frame(mac, dhcp.DHCP_DISCOVER, 0x1234))
    offer = parse_dhcp(vm.expect(lambda f: parse_dhcp(f) is not None, 5))
    assert offer.xid == 0x1234 and offer.yiaddr == "198.51.100.10"
    o = opts(offer)
    assert o[dhcp.DHCP_MESSAGE_TYPE_OPT] == bytes([dhcp.DHCP_OFFER])
    assert o[dhcp.DHCP_SUBNET_MASK_OPT] == addrconv.ipv4.text_to_bin("255.255.255.0")
    assert o[dhcp.DHCP_GATEWAY_ADDR_OPT] == addrconv.ipv4.text_to_bin("198.51.100.1")
    assert o[dhcp.DHCP_DNS_SERVER_ADDR_OPT] == addrconv.ipv4.text_to_bin("192.0.2.53")
    assert int.from_bytes(o[dhcp.DHCP_IP_ADDR_LEASE_TIME_OPT], "big") == 3600
    assert int.from_bytes(o[26], "big") == 1450  # interface MTU

    vm.send(dhcp_frame(mac, dhcp.DHCP_REQUEST, 0x1235, requested="198.51.100.10"))
    ack = parse_dhcp(vm.expect(lambda f: parse_dhcp(f) is not None, 5))
    assert ack.xid == 0x1235 and ack.yiaddr == "198.51.100.10"
    assert opts(ack)[dhcp.DHCP_MESSAGE_TYPE_OPT] == bytes([dhcp.DHCP_ACK])

    # an unknown client gets nothing and the agent keeps serving
    vm.send(dhcp_frame("02:00:00:00:0d:99", dhcp.DHCP_DISCOVER, 0x9999))
    assert [f for f in vm.recv_all(1.0) if parse_dhcp(f) is not None] == []
    assert hv.agent.alive()
