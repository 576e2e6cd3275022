"""The hand-written State API codec is byte-identical to the protobuf runtime.

The reference classes are built at import time from MidoNet 5.x's
``state_api.proto`` (and ``commons.proto``'s UUID), written below as a field
table and turned into a ``FileDescriptorProto``: no protoc, no generated code.
Our encoder writes every message's fields in field-number order, as protobuf
does, so the check is on exact bytes; each case also checks that protobuf
parses our bytes to the same message and that our decoder reads protobuf's
bytes back to the same value.

``protobuf`` is a test-only dependency (test-requirements.txt).
"""
from __future__ import annotations

import uuid

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import frame

PACKAGE = "org.midonet.cluster.models"
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1

# -- MidoNet's field table ------------------------------------------------------------------
# (name, number, type, label, oneof) per field; type is a scalar name or a message/enum
# name relative to the package. Labels: "opt", "req", "rep".

_FieldRow = tuple[str, int, str, str, str | None]

MESSAGES: dict[str, dict[str, object]] = {
    "UUID": {"fields": [
        ("msb", 1, "uint64", "req", None),
        ("lsb", 2, "uint64", "req", None),
    ]},
    "KeyValue": {"oneofs": ["data"], "fields": [
        ("data_32", 1, "uint32", "opt", "data"),
        ("data_64", 2, "uint64", "opt", "data"),
        ("data_variable", 3, "bytes", "opt", "data"),
    ]},
    "ProxyRequest": {"oneofs": ["data"], "fields": [
        ("request_id", 1, "uint64", "req", None),
        ("subscribe", 2, "ProxyRequest.Subscribe", "opt", "data"),
        ("unsubscribe", 3, "ProxyRequest.Unsubscribe", "opt", "data"),
        ("ping", 4, "ProxyRequest.Ping", "opt", "data"),
    ], "nested": {
        "Subscribe": {"fields": [
            ("object_class", 1, "string", "opt", None),
            ("object_id", 2, "UUID", "opt", None),
            ("key_class", 3, "string", "opt", None),
            ("value_class", 4, "string", "opt", None),
            ("table_name", 5, "string", "opt", None),
            ("table_arguments", 6, "string", "rep", None),
            ("last_version", 7, "uint64", "opt", None),
        ]},
        "Unsubscribe": {"fields": [("subscription_id", 1, "uint64", "opt", None)]},
        "Ping": {"fields": []},
    }},
    "ProxyResponse": {"oneofs": ["data"], "fields": [
        ("request_id", 1, "uint64", "req", None),
        ("notify", 2, "ProxyResponse.Notify", "opt", "data"),
        ("acknowledge", 3, "ProxyResponse.Acknowledge", "opt", "data"),
        ("pong", 4, "ProxyResponse.Pong", "opt", "data"),
        ("error", 5, "ProxyResponse.Error", "opt", "data"),
    ], "nested": {
        "Notify": {"oneofs": ["notification"], "fields": [
            ("subscription_id", 1, "uint64", "opt", None),
            ("completed", 2, "ProxyResponse.Notify.Completed", "opt", "notification"),
            ("update", 4, "ProxyResponse.Notify.Update", "opt", "notification"),
        ], "nested": {
            "Entry": {"fields": [
                ("key", 1, "KeyValue", "opt", None),
                ("value", 2, "KeyValue", "opt", None),
                ("version", 3, "int32", "opt", None),
            ]},
            "Completed": {"enums": {"Code": {
                "NSDB_ERROR": 1, "UNHANDLED_ERROR": 2, "SERVER_SHUTDOWN": 3,
            }}, "fields": [
                ("code", 1, "ProxyResponse.Notify.Completed.Code", "opt", None),
                ("nsdb_code", 2, "int32", "opt", None),
                ("description", 3, "string", "opt", None),
            ]},
            "Update": {"enums": {"Type": {"SNAPSHOT": 1, "RELATIVE": 2}}, "fields": [
                ("type", 1, "ProxyResponse.Notify.Update.Type", "opt", None),
                ("current_version", 2, "uint64", "opt", None),
                ("begin", 3, "bool", "opt", None),
                ("end", 4, "bool", "opt", None),
                ("entries", 5, "ProxyResponse.Notify.Entry", "rep", None),
            ]},
        }},
        "Acknowledge": {"fields": [
            ("subscription_id", 1, "uint64", "opt", None),
            ("last_version", 2, "uint64", "opt", None),
        ]},
        "Pong": {"fields": []},
        "Error": {"enums": {"Code": {
            "UNKNOWN_MESSAGE": 1, "UNKNOWN_PROTOCOL": 2, "UNKNOWN_CLIENT": 3,
            "NO_SUBSCRIPTION": 4, "SERVER_SHUTDOWN": 5, "INVALID_ARGUMENT": 6,
        }}, "fields": [
            ("code", 1, "ProxyResponse.Error.Code", "opt", None),
            ("description", 2, "string", "opt", None),
        ]},
    }},
}

_FD = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "uint32": _FD.TYPE_UINT32, "uint64": _FD.TYPE_UINT64, "int32": _FD.TYPE_INT32,
    "bool": _FD.TYPE_BOOL, "string": _FD.TYPE_STRING, "bytes": _FD.TYPE_BYTES,
}
_LABELS = {"opt": _FD.LABEL_OPTIONAL, "req": _FD.LABEL_REQUIRED, "rep": _FD.LABEL_REPEATED}


def _enum_names() -> set[str]:
    names: set[str] = set()

    def walk(prefix: str, specs: dict[str, dict[str, object]]) -> None:
        for name, spec in specs.items():
            for enum_name in spec.get("enums", {}):  # type: ignore[attr-defined]
                names.add(f"{prefix}{name}.{enum_name}")
            walk(f"{prefix}{name}.", spec.get("nested", {}))  # type: ignore[arg-type]

    walk("", MESSAGES)
    return names


def _build_message(proto: descriptor_pb2.DescriptorProto, name: str,
                   spec: dict[str, object], enums: set[str]) -> None:
    proto.name = name
    oneofs: list[str] = spec.get("oneofs", [])  # type: ignore[assignment]
    for oneof in oneofs:
        proto.oneof_decl.add(name=oneof)
    rows: list[_FieldRow] = spec["fields"]  # type: ignore[assignment]
    for fname, number, ftype, label, oneof in rows:
        f = proto.field.add(name=fname, number=number, label=_LABELS[label])
        if ftype in _SCALARS:
            f.type = _SCALARS[ftype]
        else:
            f.type = _FD.TYPE_ENUM if ftype in enums else _FD.TYPE_MESSAGE
            f.type_name = f".{PACKAGE}.{ftype}"
        if oneof is not None:
            f.oneof_index = oneofs.index(oneof)
    enum_specs: dict[str, dict[str, int]] = spec.get("enums", {})  # type: ignore[assignment]
    for enum_name, values in enum_specs.items():
        e = proto.enum_type.add(name=enum_name)
        for vname, vnum in values.items():
            e.value.add(name=vname, number=vnum)
    nested: dict[str, dict[str, object]] = spec.get("nested", {})  # type: ignore[assignment]
    for nested_name, nested_spec in nested.items():
        _build_message(proto.nested_type.add(), nested_name, nested_spec, enums)


def _classes() -> dict[str, type]:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="midonet_ryu_test/state_api.proto", package=PACKAGE, syntax="proto2")
    enums = _enum_names()
    for name, spec in MESSAGES.items():
        _build_message(fdp.message_type.add(), name, spec, enums)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
            for name in ("ProxyRequest", "ProxyResponse")}


_PB = _classes()
PbRequest = _PB["ProxyRequest"]
PbResponse = _PB["ProxyResponse"]


# -- our dataclasses -> protobuf messages (with the presence our encoder gives) --------------

def _set_uuid(pb, value: uuid.UUID) -> None:
    pb.msb = value.int >> 64
    pb.lsb = value.int & U64


def _set_kv(pb, kv: m.KeyValue) -> None:
    setattr(pb, {1: "data_32", 2: "data_64", 3: "data_variable"}[kv.field], kv.data)


def pb_request(req: m.ProxyRequest):
    pb = PbRequest(request_id=req.request_id)
    body = req.body
    if isinstance(body, m.Subscribe):
        s = pb.subscribe
        s.object_class = body.object_class
        _set_uuid(s.object_id, body.object_id)
        s.key_class = body.key_class
        s.value_class = body.value_class
        s.table_name = body.table_name
        s.table_arguments.extend(body.table_arguments)
        if body.last_version is not None:
            s.last_version = body.last_version
    elif isinstance(body, m.Unsubscribe):
        pb.unsubscribe.subscription_id = body.subscription_id
    elif isinstance(body, m.Ping):
        pb.ping.SetInParent()
    return pb


def pb_response(resp: m.ProxyResponse):
    pb = PbResponse(request_id=resp.request_id)
    body = resp.body
    if isinstance(body, m.Notify):
        n = pb.notify
        n.subscription_id = body.subscription_id
        if isinstance(body.body, m.Update):
            u = body.body
            n.update.type = int(u.type)
            n.update.current_version = u.current_version
            n.update.begin = u.begin
            n.update.end = u.end
            for e in u.entries:
                pe = n.update.entries.add()
                _set_kv(pe.key, e.key)
                if e.value is not None:
                    _set_kv(pe.value, e.value)
                pe.version = e.version
        elif isinstance(body.body, m.Completed):
            c = body.body
            n.completed.code = int(c.code)
            if c.nsdb_code is not None:
                n.completed.nsdb_code = c.nsdb_code
            if c.description:
                n.completed.description = c.description
    elif isinstance(body, m.Acknowledge):
        pb.acknowledge.subscription_id = body.subscription_id
        if body.last_version is not None:
            pb.acknowledge.last_version = body.last_version
    elif isinstance(body, m.Pong):
        pb.pong.SetInParent()
    elif isinstance(body, m.Error):
        pb.error.code = int(body.code)
        if body.description:
            pb.error.description = body.description
    return pb


def check_request(req: m.ProxyRequest) -> None:
    ours = m.encode_request(req)
    ref = pb_request(req)
    theirs = ref.SerializeToString(deterministic=True)
    assert ours == theirs, (ours.hex(), theirs.hex())
    assert PbRequest.FromString(ours) == ref
    assert m.decode_request(theirs) == req


def check_response(resp: m.ProxyResponse) -> None:
    ours = m.encode_response(resp)
    ref = pb_response(resp)
    theirs = ref.SerializeToString(deterministic=True)
    assert ours == theirs, (ours.hex(), theirs.hex())
    assert PbResponse.FromString(ours) == ref
    assert m.decode_response(theirs) == resp


# -- the matrix -------------------------------------------------------------------------------

NET = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
MAX_UUID = uuid.UUID(int=(1 << 128) - 1)
MAC_CLASS = "org.midonet.packets.MAC"
UUID_CLASS = "java.util.UUID"

REQUESTS = [
    m.ProxyRequest(0, m.Ping()),
    m.ProxyRequest(1, m.Ping()),
    m.ProxyRequest(U64, m.Ping()),
    m.ProxyRequest(127, m.Unsubscribe(0)),
    m.ProxyRequest(128, m.Unsubscribe(U64)),
    m.ProxyRequest(5, None),
    m.ProxyRequest(7, m.Subscribe("org.midonet.cluster.models.Topology$Network", NET,
                                  MAC_CLASS, UUID_CLASS, "mac_table")),
    m.ProxyRequest(8, m.Subscribe("Network", NET, MAC_CLASS, UUID_CLASS, "mac_table",
                                  ("0",), 12)),
    m.ProxyRequest(U64 - 1, m.Subscribe("Router", MAX_UUID, "k", "v", "arp_table",
                                        ("1", "", "vlan é"), U64)),
    m.ProxyRequest(9, m.Subscribe("", uuid.UUID(int=0), "", "", "", (), 0)),
]

_KVS = [m.KeyValue(1, 0), m.KeyValue(1, 0x0A000001), m.KeyValue(1, U32),
        m.KeyValue(2, 0), m.KeyValue(2, 0xAABBCCDDEEFF), m.KeyValue(2, U64),
        m.KeyValue(3, b""), m.KeyValue(3, NET.bytes), m.KeyValue(3, bytes(range(256)) * 2)]


def _entries() -> tuple[m.Entry, ...]:
    out = []
    versions = [0, 1, -1, I32_MAX, I32_MIN, 300]
    for i, key in enumerate(_KVS):
        value = _KVS[(i * 4 + 1) % len(_KVS)]
        out.append(m.Entry(key, value, versions[i % len(versions)]))
        out.append(m.Entry(key, None, versions[(i + 3) % len(versions)]))
    return tuple(out)


ENTRIES = _entries()

UPDATES = [
    m.Update(m.UpdateType.SNAPSHOT, 0, True, True),
    m.Update(m.UpdateType.SNAPSHOT, 10, True, False, ENTRIES[:3]),
    m.Update(m.UpdateType.SNAPSHOT, 10, False, False, ENTRIES[3:9]),
    m.Update(m.UpdateType.SNAPSHOT, 10, False, True, ENTRIES[9:]),
    m.Update(m.UpdateType.RELATIVE, U64, False, False, ENTRIES),
    m.Update(m.UpdateType.RELATIVE, 1 << 63, True, True, (ENTRIES[1],)),
]

RESPONSES = [
    *(m.ProxyResponse(rid, m.Notify(sid, u))
      for rid, sid, u in zip([0, 1, U64, 300, 2, 3], [0, U64, 1, 1 << 40, 5, 6], UPDATES,
                             strict=True)),
    m.ProxyResponse(4, m.Notify(4, None)),
    m.ProxyResponse(4, m.Notify(4, m.Completed(m.CompletedCode.NSDB_ERROR, -4,
                                               "connection loss"))),
    m.ProxyResponse(4, m.Notify(4, m.Completed(m.CompletedCode.UNHANDLED_ERROR))),
    m.ProxyResponse(4, m.Notify(U64, m.Completed(m.CompletedCode.SERVER_SHUTDOWN, I32_MIN, "é"))),
    m.ProxyResponse(4, m.Notify(4, m.Completed(m.CompletedCode.NSDB_ERROR, I32_MAX))),
    m.ProxyResponse(0, m.Acknowledge(0)),
    m.ProxyResponse(1, m.Acknowledge(U64, 0)),
    m.ProxyResponse(U64, m.Acknowledge(17, U64)),
    m.ProxyResponse(2, m.Pong()),
    m.ProxyResponse(3, None),
    *(m.ProxyResponse(6, m.Error(code)) for code in m.ErrorCode),
    m.ProxyResponse(6, m.Error(m.ErrorCode.INVALID_ARGUMENT, "bad table name " * 20)),
]


@pytest.mark.parametrize("req", REQUESTS, ids=lambda r: type(r.body).__name__)
def test_request_matches_protobuf(req):
    check_request(req)


@pytest.mark.parametrize("resp", RESPONSES, ids=lambda r: type(r.body).__name__)
def test_response_matches_protobuf(resp):
    check_response(resp)


@pytest.mark.parametrize("update", UPDATES, ids=lambda u: f"{u.type.name}-{u.begin}-{u.end}")
def test_fan_out_path_matches_protobuf(update):
    """The hot path (entries encoded once, shared body, pre-encoded header) frames the same
    bytes protobuf serializes for the whole response."""
    ref = pb_response(m.ProxyResponse(U64, m.Notify(1 << 35, update))).SerializeToString()
    body = m.encode_update_body(update.type, update.current_version, update.begin, update.end,
                                [m.encode_entry(e.key, e.value, e.version)
                                 for e in update.entries])
    assert m.encode_notify_update(U64, 1 << 35, body) == ref
    assert m.NotifyFramer(U64, 1 << 35).frame(m.shared_update_field(body)) == frame(ref)


def test_field_table_matches_module_enums():
    """The table above and the module agree on MidoNet's enum numbers."""
    completed = PbResponse.Notify.Completed.Code
    assert {c.name: int(c) for c in m.CompletedCode} == dict(completed.items())
    assert {c.name: int(c) for c in m.UpdateType} == dict(PbResponse.Notify.Update.Type.items())
    assert {c.name: int(c) for c in m.ErrorCode} == dict(PbResponse.Error.Code.items())


# -- generated messages ----------------------------------------------------------------------

_u64 = st.integers(0, U64)
_text = st.text(max_size=12)
_kv = st.one_of(
    st.builds(m.KeyValue, st.just(1), st.integers(0, U32)),
    st.builds(m.KeyValue, st.just(2), _u64),
    st.builds(m.KeyValue, st.just(3), st.binary(max_size=40)),
)
_entry = st.builds(m.Entry, _kv, st.none() | _kv, st.integers(I32_MIN, I32_MAX))
_update = st.builds(m.Update, st.sampled_from(m.UpdateType), _u64, st.booleans(), st.booleans(),
                    st.lists(_entry, max_size=5).map(tuple))
_completed = st.builds(m.Completed, st.sampled_from(m.CompletedCode),
                       st.none() | st.integers(I32_MIN, I32_MAX), _text)
_responses = st.builds(m.ProxyResponse, _u64, st.one_of(
    st.none(),
    st.builds(m.Notify, _u64, st.none() | _update | _completed),
    st.builds(m.Acknowledge, _u64, st.none() | _u64),
    st.just(m.Pong()),
    st.builds(m.Error, st.sampled_from(m.ErrorCode), _text),
))
_requests = st.builds(m.ProxyRequest, _u64, st.one_of(
    st.none(),
    st.just(m.Ping()),
    st.builds(m.Unsubscribe, _u64),
    st.builds(m.Subscribe, _text, st.uuids(), _text, _text, _text,
              st.lists(_text, max_size=3).map(tuple), st.none() | _u64),
))


@settings(max_examples=150, deadline=None)
@given(_requests)
def test_generated_requests_match_protobuf(req):
    check_request(req)


@settings(max_examples=150, deadline=None)
@given(_responses)
def test_generated_responses_match_protobuf(resp):
    check_response(resp)
