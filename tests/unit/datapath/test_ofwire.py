"""Hand-packed messages are byte-identical to OS-Ken's serialization."""
import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from midonet_ryu.datapath import ofwire
from midonet_ryu.simulation.addr import int_to_ip, ip_to_int

IP_FIELDS = {"ipv4_src", "ipv4_dst", "arp_spa", "arp_tpa", "tun_ipv4_dst"}


class _Datapath:
    ofproto = ofp
    ofproto_parser = parser


def user(name, value):
    return (name, int_to_ip(value)) if name in IP_FIELDS else (name, value)


def osken_match(fields):
    return parser.OFPMatch(_ordered_fields=[ofp.oxm_normalize_user(*user(n, v))
                                            for n, v in fields])


def osken_actions(actions):
    out = []
    for a in actions:
        if a[0] == "output":
            out.append(parser.OFPActionOutput(a[1], ofp.OFPCML_NO_BUFFER))
        elif a[0] == "set_field":
            out.append(parser.OFPActionSetField(**dict([user(a[1], a[2])])))
        elif a[0] == "push_vlan":
            out.append(parser.OFPActionPushVlan(a[1]))
        elif a[0] == "pop_vlan":
            out.append(parser.OFPActionPopVlan())
    return out


def serialized(msg, xid):
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


MATCHES = [
    [("in_port", 3), ("eth_dst", "02:00:00:00:00:02"), ("eth_src", "02:00:00:00:00:01"),
     ("vlan_vid", ofp.OFPVID_NONE)],
    [("in_port", 7), ("eth_type", 0x0800), ("ip_dscp", 10), ("ip_proto", 6),
     ("ipv4_src", ip_to_int("198.51.100.1")), ("ipv4_dst", ip_to_int("203.0.113.9")),
     ("tcp_src", 1234), ("tcp_dst", 80), ("nw_ttl", 64), ("ip_frag", (0, 3))],
    [("in_port", 1), ("eth_type", 0x0800), ("ip_proto", 17), ("udp_src", 53),
     ("udp_dst", 5353)],
    [("in_port", 1), ("eth_type", 0x0800), ("ip_proto", 132), ("sctp_src", 1),
     ("sctp_dst", 2)],
    [("in_port", 2), ("eth_type", 0x0800), ("ip_proto", 1), ("icmpv4_type", 8),
     ("icmpv4_code", 0)],
    [("in_port", 2), ("eth_type", 0x0806), ("arp_op", 1), ("arp_spa", ip_to_int("192.0.2.1")),
     ("arp_tpa", ip_to_int("192.0.2.2")), ("arp_sha", "02:aa:bb:cc:dd:ee"),
     ("arp_tha", "00:00:00:00:00:00")],
    [("in_port", 9), ("vlan_vid", ofp.OFPVID_PRESENT | 10)],
]

ACTIONS = [
    [("output", 4)],
    [("set_field", "tunnel_id", 0x100007),
     ("set_field", "tun_ipv4_dst", ip_to_int("192.0.2.2")), ("output", 1)],
    [("set_field", "eth_src", "02:ee:c6:33:64:fe"), ("set_field", "eth_dst", "02:00:00:00:00:09"),
     ("set_field", "nw_ttl", 63), ("set_field", "ipv4_src", ip_to_int("203.0.113.50")),
     ("set_field", "tcp_src", 4000), ("set_field", "udp_dst", 53),
     ("output", ofp.OFPP_IN_PORT)],
    [("push_vlan", 0x8100), ("set_field", "vlan_vid", ofp.OFPVID_PRESENT | 20), ("output", 2),
     ("pop_vlan",), ("output", 3)],
    [],
]


@pytest.mark.parametrize("fields", MATCHES)
@pytest.mark.parametrize("actions", ACTIONS)
def test_flow_mod_bytes(fields, actions):
    ours = ofwire.flow_mod(41, 0x0300010000000007, 1, 104, ofwire.encode_match(fields),
                           ofwire.encode_actions(actions), idle_timeout=60, hard_timeout=30,
                           flags=ofp.OFPFF_SEND_FLOW_REM)
    theirs = serialized(parser.OFPFlowMod(
        _Datapath(), cookie=0x0300010000000007, table_id=1, priority=104, idle_timeout=60,
        hard_timeout=30, flags=ofp.OFPFF_SEND_FLOW_REM, match=osken_match(fields),
        instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                                   osken_actions(actions))]), 41)
    assert ours == theirs


def test_drop_flow_has_no_instruction():
    fields = MATCHES[0]
    ours = ofwire.flow_mod(5, 1, 1, 90, ofwire.encode_match(fields), None, hard_timeout=5)
    theirs = serialized(parser.OFPFlowMod(_Datapath(), cookie=1, table_id=1, priority=90,
                                          hard_timeout=5, match=osken_match(fields),
                                          instructions=[]), 5)
    assert ours == theirs


# (OS-Ken loses the data of a packet-out without actions; we never send one)
@pytest.mark.parametrize("actions", [a for a in ACTIONS if a])
def test_packet_out_bytes(actions):
    frame = bytes(range(60))
    ours = ofwire.packet_out(8, 3, ofwire.encode_actions(actions), frame)
    theirs = serialized(parser.OFPPacketOut(_Datapath(), buffer_id=ofp.OFP_NO_BUFFER,
                                            in_port=3, actions=osken_actions(actions),
                                            data=frame), 8)
    assert ours == theirs


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        ofwire.encode_actions([("teleport", 1)])
