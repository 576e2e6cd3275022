"""State API wire format: MidoNet's field numbers, framing bounds, and a decoder fuzz."""
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midonet_ryu.nsdb import state_catalogue as catalogue
from midonet_ryu.nsdb import state_codecs as codecs
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import FrameDecoder, frame
from midonet_ryu.stateproxy.protowire import DecodeError

NET = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")


def test_known_bytes():
    # request_id=1 (08 01), ping = field 4, empty (22 00)
    assert m.encode_request(m.ProxyRequest(1, m.Ping())) == b"\x08\x01\x22\x00"
    # response: request_id=7, error{code=NO_SUBSCRIPTION}
    assert m.encode_response(m.ProxyResponse(7, m.Error(m.ErrorCode.NO_SUBSCRIPTION))) == \
        b"\x08\x07\x2a\x02\x08\x04"
    # MAC key -> KeyValue.data_64 (field 2)
    assert m.KeyValue.of(codecs.MAC, "00:00:00:00:00:01").encode() == b"\x10\x01"
    assert frame(b"x" * 300)[:2] == b"\xac\x02"


def test_subscribe_round_trip():
    sub = m.Subscribe(catalogue.MAC_TABLE.object_class, NET, codecs.MAC.java_class,
                      codecs.UUID.java_class, "mac_table", ("0",), 12)
    req = m.ProxyRequest(42, sub)
    assert m.decode_request(m.encode_request(req)) == req
    assert m.decode_request(m.encode_request(m.ProxyRequest(3, m.Unsubscribe(9)))) == \
        m.ProxyRequest(3, m.Unsubscribe(9))


def test_response_round_trip_with_removal_and_negative_int32():
    port = uuid.uuid4()
    entries = (m.Entry(m.KeyValue.of(codecs.MAC, "aa:bb:cc:dd:ee:ff"),
                       m.KeyValue.of(codecs.UUID, port), 5),
               m.Entry(m.KeyValue.of(codecs.MAC, "aa:bb:cc:dd:ee:00"), None, 2147483647))
    for body in (m.Notify(3, m.Update(m.UpdateType.RELATIVE, 99, True, False, entries)),
                 m.Notify(3, m.Completed(m.CompletedCode.NSDB_ERROR, -4, "connection loss")),
                 m.Acknowledge(3, 17), m.Pong(), m.Error(m.ErrorCode.INVALID_ARGUMENT, "bad")):
        resp = m.ProxyResponse(8, body)
        assert m.decode_response(m.encode_response(resp)) == resp
    decoded = m.decode_response(m.encode_response(m.ProxyResponse(1, m.Notify(1, m.Update(
        m.UpdateType.SNAPSHOT, 1, True, True, entries)))))
    assert decoded.body.body.entries[0].value.to(codecs.UUID) == port


def test_shared_update_body_equals_full_encoding():
    entry = m.Entry(m.KeyValue.of(codecs.IPV4, "10.0.0.1"),
                    m.KeyValue.of(codecs.MAC, "aa:aa:aa:aa:aa:aa"), 1)
    body = m.encode_update_body(m.UpdateType.RELATIVE, 4, True, True,
                                [m.encode_entry(entry.key, entry.value, entry.version)])
    full = m.ProxyResponse(5, m.Notify(6, m.Update(m.UpdateType.RELATIVE, 4, True, True, (entry,))))
    assert m.encode_notify_update(5, 6, body) == m.encode_response(full)
    framer = m.NotifyFramer(5, 6)
    assert framer.frame(m.shared_update_field(body)) == frame(m.encode_response(full))


def test_unknown_body_decodes_as_none_but_missing_id_is_an_error():
    assert m.decode_request(b"\x08\x05\x7a\x00").body is None  # field 15: unknown message
    with pytest.raises(DecodeError):
        m.decode_request(b"\x22\x00")


@pytest.mark.parametrize("data", [
    b"\x08", b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", b"\x0b\x01",
    b"\x08\x01\x12\x05\x0a", b"\x08\x01\x12\x02\x08\x01",  # subscribe without object id
    b"\x00\x01",
])
def test_malformed_requests_raise_decode_error(data):
    with pytest.raises(DecodeError):
        m.decode_request(data)


def test_frame_decoder_reassembles_and_bounds():
    dec = FrameDecoder(max_frame=1000)
    stream = frame(b"a" * 10) + frame(b"b" * 500) + frame(b"")
    out = []
    for i in range(len(stream)):
        out += dec.feed(stream[i:i + 1])
    assert out == [b"a" * 10, b"b" * 500, b""]
    with pytest.raises(DecodeError):
        FrameDecoder(max_frame=1000).feed(frame(b"c" * 1001)[:3])  # refused from the header
    with pytest.raises(DecodeError):
        FrameDecoder(max_frame=1 << 40).feed(b"\xff\xff\xff\xff\xff\xff")


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_request_decoder_only_raises_decode_error(data):
    try:
        m.decode_request(data)
    except DecodeError:
        pass


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_response_decoder_only_raises_decode_error(data):
    try:
        m.decode_response(data)
    except DecodeError:
        pass


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=20))
def test_fuzz_framer_never_buffers_past_bound(chunks):
    dec = FrameDecoder(max_frame=64)
    try:
        for chunk in chunks:
            for f in dec.feed(chunk):
                assert len(f) <= 64
            assert dec.buffered <= 64 + 5 + 40
    except DecodeError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.builds(m.Subscribe, st.text(max_size=20), st.uuids(), st.text(max_size=10),
                 st.text(max_size=10), st.text(max_size=10),
                 st.lists(st.text(max_size=5), max_size=3).map(tuple),
                 st.one_of(st.none(), st.integers(0, 2**64 - 1))),
       st.integers(0, 2**64 - 1))
def test_any_subscribe_round_trips(sub, request_id):
    req = m.ProxyRequest(request_id, sub)
    assert m.decode_request(m.encode_request(req)) == req
