"""The state-packet codec: round trips, MTU splitting, and hostile input."""
from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midonet_ryu.flowstate import state_packet as fr
from midonet_ryu.flowstate.payload import (
    HEADER_SIZE,
    FlowStateMessage,
    decode_payload,
    encode_payload,
    payload_size,
)
from midonet_ryu.simulation.state import ConntrackKey, NatBinding, NatKey, NatKeyType

SENDER = uuid.UUID("11111111-2222-3333-4444-555555555555")
DEV = uuid.UUID(int=7)

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 2**16 - 1)
u8 = st.integers(0, 255)
uuids = st.uuids()
conntrack_keys = st.builds(ConntrackKey, uuids, u32, u16, u32, u16, u8)
nat_pairs = st.tuples(st.builds(NatKey, st.sampled_from(list(NatKeyType)), u32, u16, u32, u16,
                                u8, uuids), st.builds(NatBinding, u32, u16))


def ct(i: int) -> ConntrackKey:
    return ConntrackKey(DEV, 0x0A000001, 1000 + i, 0x0A000002, 80, 6)


def nat(i: int) -> tuple[NatKey, NatBinding]:
    return (NatKey(NatKeyType.REV_SNAT, 0xCB00710A, 80, 0xCB007101, 2000 + i, 6, DEV),
            NatBinding(0x0A000001, 1000 + i))


def test_frame_has_midonets_inner_headers():
    frames = fr.encode_frames(FlowStateMessage(SENDER, (ct(0),), (nat(0),)))
    assert len(frames) == 1
    f = frames[0]
    assert f[0:6] == bytes.fromhex("accaba001502") and f[6:12] == bytes.fromhex("accaba001501")
    assert f[12:14] == b"\x08\x00"
    assert f[26:30] == bytes([169, 254, 15, 1]) and f[30:34] == bytes([169, 254, 15, 2])
    assert struct.unpack("!HH", f[34:38]) == (2925, 2925)
    assert len(f) == 14 + 20 + 8 + payload_size(1, 1)


def test_dscp_marks_the_ip_header_and_the_frame_still_decodes():
    msg = FlowStateMessage(SENDER, (ct(0),))
    (plain,) = fr.encode_frames(msg)
    (marked,) = fr.encode_frames(msg, dscp=46)  # EF
    assert plain[15] == 0 and marked[15] == 46 << 2
    assert fr.checksum(marked[14:34]) == 0  # the header checksum covers the mark
    assert fr.decode_frame(marked) == msg
    with pytest.raises(ValueError):
        fr.encode_frames(msg, dscp=64)


def test_round_trip_keeps_every_field():
    msg = FlowStateMessage(SENDER, (ct(1), ct(2)), (nat(1),) + tuple(
        (NatKey(t, 1, 2, 3, 4, 17, DEV), NatBinding(5, 6)) for t in NatKeyType))
    (f,) = fr.encode_frames(msg)
    assert fr.decode_frame(f) == msg


def test_a_withdrawal_is_flagged_in_the_header_and_round_trips():
    msg = FlowStateMessage(SENDER, (ct(1),), (nat(1),), withdraw=True)
    (f,) = fr.encode_frames(msg)
    assert encode_payload(msg)[5] == 0x01
    assert encode_payload(FlowStateMessage(SENDER, (ct(1),)))[5] == 0
    assert fr.decode_frame(f) == msg


@settings(max_examples=200, deadline=None)
@given(st.lists(conntrack_keys, max_size=120), st.lists(nat_pairs, max_size=120), uuids,
       st.booleans())
def test_any_keys_round_trip_through_frames_that_fit_the_mtu(cts, nats, sender, withdraw):
    frames = fr.encode_frames(FlowStateMessage(sender, tuple(cts), tuple(nats), withdraw))
    got_ct, got_nat = [], []
    for f in frames:
        assert len(f) <= fr.MAX_FRAME
        msg = fr.decode_frame(f)
        assert msg.sender == sender and msg.withdraw is withdraw
        got_ct += msg.conntrack
        got_nat += msg.nat
    assert got_ct == cts and got_nat == nats
    if not cts and not nats:
        assert frames == []


def test_many_keys_split_into_full_frames():
    cts = [ct(i) for i in range(100)]
    nats = [nat(i) for i in range(100)]
    frames = fr.encode_frames(FlowStateMessage(SENDER, tuple(cts), tuple(nats)))
    assert len(frames) == 5  # 100*29 + 100*36 = 6500 bytes of records, 1396 per frame
    # every frame but the last is as full as the MTU allows
    for f in frames[:-1]:
        assert fr.MAX_FRAME - len(f) < 36
    # a 1500-byte underlay carries the frame after VXLAN (outer IP+UDP+VXLAN = 36)
    assert max(len(f) for f in frames) + 36 <= 1500


def test_split_message_rejects_a_payload_too_small_for_one_key():
    with pytest.raises(ValueError):
        fr.split_message(SENDER, [ct(0)], [], max_payload=HEADER_SIZE + 10)


def test_unencodable_key_is_a_value_error_not_a_wrong_record():
    with pytest.raises(ValueError, match="does not fit"):
        encode_payload(FlowStateMessage(SENDER, (ConntrackKey(DEV, 2**32, 1, 2, 3, 6),)))
    with pytest.raises(ValueError):
        encode_payload(FlowStateMessage(SENDER, (ConntrackKey(DEV, 1, 70000, 2, 3, 6),)))


def good_frame() -> bytes:
    return fr.encode_frames(FlowStateMessage(SENDER, (ct(0),), (nat(0),)))[0]


@pytest.mark.parametrize("mutate, reason", [
    (lambda f: f[:40], "truncated"),
    (lambda f: f[:-1], "does not fit"),
    (lambda f: f + b"\x00" * 2000, "exceeds"),
    (lambda f: f[:12] + b"\x86\xdd" + f[14:], "not IPv4"),
    (lambda f: f[:23] + b"\x06" + f[24:], "not UDP"),
    (lambda f: f[:36] + b"\x00\x35" + f[38:], "UDP ports"),
    (lambda f: f[:26] + b"\x0a\x00\x00\x01" + f[30:], "inner addresses"),
    (lambda f: f[:24] + b"\x00\x00" + f[26:], "checksum"),
    (lambda f: f[:-1] + bytes([f[-1] ^ 0xFF]), "checksum"),
], ids=["truncated", "short-ip", "oversized", "ethertype", "proto", "port", "addr",
        "ip-csum", "udp-csum"])
def test_malformed_frames_say_what_is_wrong(mutate, reason):
    with pytest.raises(ValueError, match=reason):
        fr.decode_frame(mutate(good_frame()))


def test_ethernet_padding_after_the_ip_packet_is_accepted():
    assert fr.decode_frame(good_frame() + b"\x00" * 6).sender == SENDER


def payload_with(**overrides) -> bytes:
    p = bytearray(encode_payload(FlowStateMessage(SENDER, (ct(0),), (nat(0),))))
    for offset, value in overrides.values():
        p[offset:offset + len(value)] = value
    return bytes(p)


@pytest.mark.parametrize("data, reason", [
    (b"MRFS\x01", "truncated"),
    (payload_with(magic=(0, b"XXXX")), "magic"),
    (payload_with(version=(4, b"\x02")), "version 2"),
    (payload_with(flags=(5, b"\x02")), "flags 0x02"),
    (payload_with(count=(22, b"\x00\x05")), "counts"),
    (payload_with(ntype=(HEADER_SIZE + 29 + 16, b"\x63")), "NAT key type code 99"),
])
def test_malformed_payloads_say_what_is_wrong(data, reason):
    with pytest.raises(ValueError, match=reason):
        decode_payload(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=1600))
def test_random_bytes_raise_only_value_error(data):
    try:
        fr.decode_frame(data)
    except ValueError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_payloads_raise_only_value_error(data):
    try:
        decode_payload(data)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_valid_frames_raise_only_value_error(data):
    f = bytearray(good_frame())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(f) - 1))
        f[i] = data.draw(u8)
    cut = data.draw(st.integers(0, len(f)))
    try:
        msg = fr.decode_frame(bytes(f[:cut]))
    except ValueError:
        return
    # a corruption the checksums cannot see still decodes to well-typed keys
    assert all(isinstance(k, ConntrackKey) for k in msg.conntrack)


@settings(max_examples=200, deadline=None)
@given(st.lists(conntrack_keys, max_size=5), st.lists(nat_pairs, max_size=5), u16)
def test_payload_fuzz_with_valid_checksums(cts, nats, garble):
    """Garbage that passes the frame checks (recomputed checksums) is still
    caught by the payload decoder, as ValueError only."""
    payload = bytearray(encode_payload(FlowStateMessage(SENDER, tuple(cts), tuple(nats))))
    if len(payload) > HEADER_SIZE:
        payload[garble % len(payload)] ^= 0xFF
    try:
        fr.decode_frame(fr.wrap(bytes(payload)))
    except ValueError:
        pass


def test_non_bytes_input_is_a_value_error():
    with pytest.raises(ValueError):
        fr.decode_frame("not bytes")  # type: ignore[arg-type]
