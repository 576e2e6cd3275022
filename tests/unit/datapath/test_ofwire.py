"""Hand-packed messages are byte-identical to OS-Ken's serialization, and the
packet-in decoder agrees with OS-Ken's parser and refuses malformed input."""
import struct
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from os_ken.ofproto import ofproto_parser
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


# -- every message value through encode() ----------------------------------------------
COOKIE = 0x0300010000000007
FRAME = bytes(range(60))


def osken_instructions(actions, goto):
    """The instruction list as OS-Ken callers write it: apply-actions, then goto-table
    (the OpenFlow 1.3 execution order; OS-Ken serializes the list as given)."""
    out = []
    if actions is not None:
        out.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                                osken_actions(actions)))
    if goto is not None:
        out.append(parser.OFPInstructionGotoTable(goto))
    return out


INSTRUCTIONS = {  # name -> (actions, goto)
    "goto_only": (None, 2),
    "apply_only": (ACTIONS[1], None),
    "apply_and_goto": (ACTIONS[2], 3),
    "empty_apply_and_goto": ([], 4),
    "none": (None, None),
}
TIMEOUTS = {  # name -> (idle_timeout, hard_timeout, flags)
    "permanent": (0, 0, 0),
    "timed_flow_rem": (60, 30, ofp.OFPFF_SEND_FLOW_REM),
    "hard_only": (0, 5, 0),
}
FLOW_MOD_MATCHES = {"empty": [], "l2": MATCHES[0], "l4": MATCHES[1],
                    "tunnel": [("in_port", 1), ("tunnel_id", 0x100007)]}


def osken_flow_mod(m):
    return parser.OFPFlowMod(
        _Datapath(), cookie=m.cookie, table_id=m.table_id, priority=m.priority,
        idle_timeout=m.idle_timeout, hard_timeout=m.hard_timeout, flags=m.flags,
        match=osken_match(m.match), instructions=osken_instructions(m.actions, m.goto))


@pytest.mark.parametrize("instructions", INSTRUCTIONS)
@pytest.mark.parametrize("timeouts", TIMEOUTS)
@pytest.mark.parametrize("match", FLOW_MOD_MATCHES)
def test_encode_flow_mod_bytes(instructions, timeouts, match):
    actions, goto = INSTRUCTIONS[instructions]
    idle, hard, flags = TIMEOUTS[timeouts]
    message = ofwire.FlowMod(1, 104, COOKIE, FLOW_MOD_MATCHES[match], actions=actions,
                             goto=goto, idle_timeout=idle, hard_timeout=hard, flags=flags)
    assert ofwire.encode(message, 41) == serialized(osken_flow_mod(message), 41)


def test_flow_mod_instruction_order_round_trips_through_osken():
    """Apply-actions precede goto-table on the wire, as OS-Ken reads them back."""
    message = ofwire.FlowMod(0, 10, 1, MATCHES[2], actions=ACTIONS[0], goto=5)
    buf = ofwire.encode(message, 3)
    parsed = ofproto_parser.msg(_Datapath(), ofp.OFP_VERSION, ofp.OFPT_FLOW_MOD, len(buf), 3,
                                buf)
    kinds = [type(i) for i in parsed.instructions]
    assert kinds == [parser.OFPInstructionActions, parser.OFPInstructionGotoTable]
    assert parsed.instructions[1].table_id == 5
    assert parsed.match.get("in_port") == 1


FLOW_DELETES = {
    "cookie_full_mask": ofwire.FlowDelete(1, cookie=COOKIE, cookie_mask=ofwire.ALL_ONES),
    "cookie_prefix_and_in_port": ofwire.FlowDelete(2, cookie=0x0300000000000000,
                                                   cookie_mask=0xFF00000000000000,
                                                   match=[("in_port", 5)]),
    "all_tables": ofwire.FlowDelete(ofp.OFPTT_ALL, cookie=COOKIE,
                                    cookie_mask=ofwire.ALL_ONES),
    "everything_in_table": ofwire.FlowDelete(3),
    "strict": ofwire.FlowDelete(0, match=[("in_port", 5), ("tunnel_id", 0x100007)],
                                strict_priority=200),
    "strict_priority_zero": ofwire.FlowDelete(4, match=[("in_port", 6)], strict_priority=0),
    "strict_cookie": ofwire.FlowDelete(1, cookie=COOKIE, cookie_mask=ofwire.ALL_ONES,
                                       match=MATCHES[1], strict_priority=104),
}


def osken_flow_delete(d):
    strict = d.strict_priority is not None
    kwargs = {"priority": d.strict_priority} if strict else {}
    return parser.OFPFlowMod(
        _Datapath(), cookie=d.cookie, cookie_mask=d.cookie_mask, table_id=d.table_id,
        command=ofp.OFPFC_DELETE_STRICT if strict else ofp.OFPFC_DELETE,
        out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=osken_match(d.match), **kwargs)


@pytest.mark.parametrize("name", FLOW_DELETES)
def test_encode_flow_delete_bytes(name):
    message = FLOW_DELETES[name]
    assert ofwire.encode(message, 0xFFFFFFFF) == serialized(osken_flow_delete(message),
                                                            0xFFFFFFFF)


@pytest.mark.parametrize("actions", [a for a in ACTIONS if a])
@pytest.mark.parametrize("size", [1, 60, 1514])
@pytest.mark.parametrize("in_port", [ofp.OFPP_CONTROLLER, 3])
def test_encode_packet_out_bytes(actions, size, in_port):
    frame = bytes(i & 0xFF for i in range(size))
    ours = ofwire.encode(ofwire.PacketOut(in_port, actions, frame), 8)
    theirs = serialized(parser.OFPPacketOut(_Datapath(), buffer_id=ofp.OFP_NO_BUFFER,
                                            in_port=in_port, actions=osken_actions(actions),
                                            data=frame), 8)
    assert ours == theirs


def test_encode_tunnel_packet_out_from_controller():
    actions = [("set_field", "tunnel_id", 0x100007),
               ("set_field", "tun_ipv4_dst", ip_to_int("192.0.2.2")), ("output", 7)]
    ours = ofwire.encode(ofwire.PacketOut(ofwire.OFPP_CONTROLLER, actions, FRAME), 9)
    theirs = serialized(parser.OFPPacketOut(
        _Datapath(), buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
        actions=[parser.OFPActionSetField(tunnel_id=0x100007),
                 parser.OFPActionSetField(tun_ipv4_dst="192.0.2.2"),
                 parser.OFPActionOutput(7, ofp.OFPCML_NO_BUFFER)], data=FRAME), 9)
    assert ours == theirs


@pytest.mark.parametrize("flags, miss_send_len", [
    (ofp.OFPC_FRAG_NORMAL, ofp.OFPCML_NO_BUFFER), (ofp.OFPC_FRAG_DROP, 128)])
def test_encode_set_config_bytes(flags, miss_send_len):
    theirs = serialized(parser.OFPSetConfig(_Datapath(), flags, miss_send_len), 2)
    assert ofwire.encode(ofwire.SetConfig(flags, miss_send_len), 2) == theirs


def test_encode_default_set_config_bytes():
    theirs = serialized(parser.OFPSetConfig(_Datapath(), ofp.OFPC_FRAG_NORMAL,
                                            ofp.OFPCML_NO_BUFFER), 1)
    assert ofwire.encode(ofwire.SetConfig(), 1) == theirs


@pytest.mark.parametrize("table_id", [0, 1, 5, ofp.OFPTT_ALL])
def test_encode_flow_stats_request_bytes(table_id):
    theirs = serialized(parser.OFPFlowStatsRequest(_Datapath(), table_id=table_id), 77)
    assert ofwire.encode(ofwire.FlowStatsRequest(table_id), 77) == theirs


# One value of every message type, with OS-Ken's equivalent.
ALL_MESSAGES = [
    (ofwire.FlowMod(1, 104, COOKIE, MATCHES[0], actions=ACTIONS[1], goto=2),
     lambda m: osken_flow_mod(m)),
    (FLOW_DELETES["strict"], osken_flow_delete),
    (ofwire.PacketOut(ofwire.OFPP_CONTROLLER, ACTIONS[1], FRAME),
     lambda m: parser.OFPPacketOut(_Datapath(), buffer_id=ofp.OFP_NO_BUFFER,
                                   in_port=m.in_port, actions=osken_actions(m.actions),
                                   data=m.data)),
    (ofwire.SetConfig(), lambda m: parser.OFPSetConfig(_Datapath(), m.flags, m.miss_send_len)),
    (ofwire.FlowStatsRequest(3),
     lambda m: parser.OFPFlowStatsRequest(_Datapath(), table_id=m.table_id)),
]


def test_every_message_type_is_checked():
    """A new message type must get a byte-for-byte check here."""
    assert {type(m) for m, _ in ALL_MESSAGES} == set(typing.get_args(ofwire.Message))


@pytest.mark.parametrize("message, osken", ALL_MESSAGES,
                         ids=[type(m).__name__ for m, _ in ALL_MESSAGES])
def test_every_message_type_bytes(message, osken):
    assert ofwire.encode(message, 12345) == serialized(osken(message), 12345)


def test_encode_refuses_other_values():
    with pytest.raises(TypeError):
        ofwire.encode(("flow_mod", 1), 1)


def test_shared_actions_are_encoded_once(monkeypatch):
    actions = list(ACTIONS[1])
    flow = ofwire.FlowMod(1, 104, COOKIE, MATCHES[0], actions=actions, goto=2,
                          hard_timeout=5, flags=ofp.OFPFF_SEND_FLOW_REM)
    out = ofwire.PacketOut(3, actions, FRAME)
    drop = ofwire.FlowMod(1, 90, COOKIE, MATCHES[1])
    plain = [ofwire.encode(flow, 1), ofwire.encode(out, 2), ofwire.encode(drop, 3)]
    real = ofwire.encode_actions
    calls = []

    def counting(a):
        calls.append(a)
        return real(a)

    monkeypatch.setattr(ofwire, "encode_actions", counting)
    cache: dict[int, bytes] = {}
    cached = [ofwire.encode(flow, 1, cache), ofwire.encode(out, 2, cache),
              ofwire.encode(drop, 3, cache)]
    assert cached == plain
    assert cached[:2] == [serialized(osken_flow_mod(flow), 1),
                          serialized(parser.OFPPacketOut(
                              _Datapath(), buffer_id=ofp.OFP_NO_BUFFER, in_port=3,
                              actions=osken_actions(actions), data=FRAME), 2)]
    assert len(calls) == 1 and calls[0] is actions
    assert cache == {id(actions): real(actions)}
    # the packet-out first, then the flow-mod: the same bytes again
    calls.clear()
    cache = {}
    assert [ofwire.encode(out, 2, cache), ofwire.encode(flow, 1, cache)] == plain[1::-1]
    assert len(calls) == 1


# -- packet-in decoding ------------------------------------------------------------------
def packet_in_wire(fields, frame, table_id=1, cookie=0, reason=ofp.OFPR_NO_MATCH, xid=1):
    """An OFPT_PACKET_IN as Open vSwitch sends it (OS-Ken cannot serialize one):
    ``fields`` are OS-Ken user values, serialized by OS-Ken's OFPMatch."""
    match = bytearray()
    mlen = parser.OFPMatch(_ordered_fields=[ofp.oxm_normalize_user(n, v)
                                            for n, v in fields]).serialize(match, 0)
    body = struct.pack("!IHBBQ", ofp.OFP_NO_BUFFER, len(frame), reason, table_id, cookie)
    payload = body + bytes(match) + b"\0" * (-mlen % 8) + b"\0\0" + frame
    return struct.pack("!BBHI", ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, 8 + len(payload),
                       xid) + payload


def osken_packet_in(buf):
    msg = ofproto_parser.msg(_Datapath(), ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, len(buf), 1,
                             bytes(buf))
    return ofwire.PacketIn(msg.match.get("in_port"), msg.match.get("tunnel_id"),
                           bytes(msg.data), msg.table_id, msg.cookie,
                           msg.match.get("tun_ipv4_src"))


PACKET_IN_MATCHES = {
    "in_port": [("in_port", 5)],
    "in_port_tunnel": [("in_port", 5), ("tunnel_id", 0x100007)],
    "tunnel_in_port": [("tunnel_id", 0xFFFFFFFFFFFFFFFF), ("in_port", 0xFFFFFF00)],
    "extras_around": [("tun_ipv4_src", "192.0.2.1"), ("in_port", 5), ("metadata", 7),
                      ("tunnel_id", 9), ("tun_ipv4_dst", "192.0.2.2"), ("_dp_hash", 3)],
    "masked_metadata_and_experimenters": [
        ("metadata", (0x1234, 0xFFFF)), ("nsh_spi", 11), ("in_port", 2), ("ct_label", 1 << 100),
        ("reg0", 42), ("tunnel_id", 77), ("ct_state", 0x21), ("pkt_mark", 9)],
    "no_in_port": [("tunnel_id", 3), ("reg1", 1)],
    "empty": [],
}


@pytest.mark.parametrize("name", PACKET_IN_MATCHES)
@pytest.mark.parametrize("size", [0, 1, 14, 60, 1514])
def test_decode_packet_in_agrees_with_osken(name, size):
    frame = bytes((i * 7) & 0xFF for i in range(size))
    buf = packet_in_wire(PACKET_IN_MATCHES[name], frame, table_id=3, cookie=COOKIE,
                         reason=ofp.OFPR_ACTION, xid=99)
    ours = ofwire.decode_packet_in(buf)
    assert ours == osken_packet_in(buf)
    assert ours.data == frame and type(ours.data) is bytes


def test_decode_packet_in_values():
    buf = packet_in_wire(PACKET_IN_MATCHES["extras_around"], FRAME, table_id=2, cookie=COOKIE)
    assert ofwire.decode_packet_in(buf) == ofwire.PacketIn(5, 9, FRAME, 2, COOKIE, "192.0.2.1")


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_decode_packet_in_buffer_types(wrap):
    buf = packet_in_wire(PACKET_IN_MATCHES["in_port_tunnel"], FRAME)
    assert ofwire.decode_packet_in(wrap(buf)) == ofwire.PacketIn(5, 0x100007, FRAME, 1, 0)


def test_decode_packet_in_ignores_bytes_after_the_message():
    buf = packet_in_wire(PACKET_IN_MATCHES["in_port"], FRAME)
    assert ofwire.decode_packet_in(buf + b"\xee" * 9) == ofwire.decode_packet_in(buf)


_U32 = st.integers(0, 2**32 - 1)
_IP = _U32.map(int_to_ip)
EXTRA_FIELDS = st.one_of(
    st.tuples(st.just("tun_ipv4_src"), _IP),
    st.tuples(st.just("tun_ipv4_dst"), _IP),
    st.tuples(st.just("metadata"), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("metadata"), st.tuples(st.integers(0, 2**64 - 1),
                                             st.integers(0, 2**64 - 1))),
    st.tuples(st.sampled_from(["reg0", "reg1", "reg7", "ct_state", "ct_mark", "pkt_mark",
                               "_dp_hash", "nsh_spi"]), _U32),
    st.tuples(st.just("ct_zone"), st.integers(0, 2**16 - 1)),
    st.tuples(st.just("tun_gbp_flags"), st.integers(0, 255)),
    st.tuples(st.just("ct_label"), st.integers(0, 2**128 - 1)),
    st.tuples(st.just("eth_type"), st.integers(0, 2**16 - 1)),
)


@st.composite
def packet_ins(draw):
    fields = draw(st.lists(EXTRA_FIELDS, max_size=6, unique_by=lambda f: f[0]))
    for name, value in (("in_port", _U32), ("tunnel_id", st.integers(0, 2**64 - 1))):
        if draw(st.booleans()) or name == "in_port" and draw(st.booleans()):
            fields.insert(draw(st.integers(0, len(fields))), (name, draw(value)))
    frame = draw(st.binary(max_size=1600))
    return packet_in_wire(fields, frame, table_id=draw(st.integers(0, 254)),
                          cookie=draw(st.integers(0, 2**64 - 1)),
                          reason=draw(st.integers(0, 2)), xid=draw(_U32))


@settings(max_examples=300, deadline=None)
@given(packet_ins())
def test_decode_random_packet_ins_agree_with_osken(buf):
    assert ofwire.decode_packet_in(buf) == osken_packet_in(buf)


def _set(buf, fmt, offset, value):
    buf = bytearray(buf)
    struct.pack_into(fmt, buf, offset, value)
    return bytes(buf)


_BASE = packet_in_wire([("tun_ipv4_src", "192.0.2.1"), ("in_port", 5), ("tunnel_id", 9)],
                       FRAME)
_MATCH_LEN = 4 + 8 + 8 + 12  # three OXM fields after the match header
_LAST_OXM_LEN_AT = 24 + 4 + 8 + 8 + 3  # length byte of the tunnel_id field


def test_base_packet_in_is_well_formed():
    assert struct.unpack_from("!H", _BASE, 26) == (_MATCH_LEN,)
    assert _BASE[_LAST_OXM_LEN_AT] == 8
    assert ofwire.decode_packet_in(_BASE) == ofwire.PacketIn(5, 9, FRAME, 1, 0, "192.0.2.1")


MALFORMED = {
    "empty": b"",
    "header_only": _BASE[:8],
    "no_match": _BASE[:27],
    "one_byte_short": _BASE[:-1],
    "length_past_buffer": _set(_BASE, "!H", 2, len(_BASE) + 1),
    "length_zero": _set(_BASE, "!H", 2, 0),
    "length_cuts_match": _set(_BASE, "!H", 2, 24 + _MATCH_LEN),
    "wrong_type_packet_out": _set(_BASE, "!B", 1, ofp.OFPT_PACKET_OUT),
    "wrong_type_flow_removed": _set(_BASE, "!B", 1, ofp.OFPT_FLOW_REMOVED),
    "wrong_type_error": _set(_BASE, "!B", 1, ofp.OFPT_ERROR),
    "standard_match_type": _set(_BASE, "!H", 24, ofp.OFPMT_STANDARD),
    "unknown_match_type": _set(_BASE, "!H", 24, 2),
    "match_len_zero": _set(_BASE, "!H", 26, 0),
    "match_len_three": _set(_BASE, "!H", 26, 3),
    "match_len_past_end": _set(_BASE, "!H", 26, len(_BASE)),
    "match_len_max": _set(_BASE, "!H", 26, 0xFFFF),
    "oxm_len_past_match": _set(_BASE, "!B", _LAST_OXM_LEN_AT, 9),
    "oxm_len_max": _set(_BASE, "!B", _LAST_OXM_LEN_AT, 255),
    "first_oxm_len_past_match": _set(_BASE, "!B", 24 + 4 + 3, _MATCH_LEN),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_packet_in_is_refused(name):
    with pytest.raises(ofwire.MalformedMessage):
        ofwire.decode_packet_in(MALFORMED[name])


def test_every_truncation_is_refused():
    for size in range(len(_BASE)):
        with pytest.raises(ofwire.MalformedMessage):
            ofwire.decode_packet_in(_BASE[:size])


@pytest.mark.parametrize("tail", [1, 2, 3])
def test_partial_oxm_header_at_match_end_is_refused(tail):
    with pytest.raises(ofwire.MalformedMessage):
        ofwire.decode_packet_in(_set(_BASE, "!H", 26, _MATCH_LEN + tail))


@settings(max_examples=1000, deadline=None)
@given(base=packet_ins(),
       mutations=st.lists(st.tuples(st.one_of(st.integers(0, 63), st.integers(0, 2000)),
                                    st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 2000),
       fix_length=st.booleans())
def test_mutated_packet_ins_raise_only_malformed(base, mutations, cut, fix_length):
    buf = bytearray(base)
    for at, value in mutations:
        buf[at % len(buf)] = value
    if cut is not None:
        del buf[cut:]
    if fix_length and len(buf) >= 4:
        struct.pack_into("!H", buf, 2, min(len(buf), 0xFFFF))
    try:
        pin = ofwire.decode_packet_in(bytes(buf))
    except ofwire.MalformedMessage:
        return
    assert type(pin) is ofwire.PacketIn and type(pin.data) is bytes
    msg_type, length = struct.unpack_from("!xBH", buf)
    assert msg_type == ofp.OFPT_PACKET_IN and 34 <= length <= len(buf)
    assert len(pin.data) <= length - 34
    assert pin.in_port is None or 0 <= pin.in_port < 2**32
    assert pin.tunnel_id is None or 0 <= pin.tunnel_id < 2**64
    # what OS-Ken reads of the same message, where it reads one without error
    try:
        theirs = parser.OFPPacketIn.parser(_Datapath(), ofp.OFP_VERSION, msg_type, length, 1,
                                           bytes(buf[:length]))
    except Exception:
        return
    expected = (theirs.match.get("in_port"), theirs.match.get("tunnel_id"))
    if all(v is None or type(v) is int for v in expected):
        assert (pin.in_port, pin.tunnel_id) == expected
        assert (pin.table_id, pin.cookie) == (theirs.table_id, theirs.cookie)
        # OS-Ken cuts the frame at total_len (Open vSwitch never sends more)
        assert pin.data[:theirs.total_len] == bytes(theirs.data)
