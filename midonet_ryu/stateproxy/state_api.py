"""The State API messages (MidoNet 5.x ``state_api.proto``), encoded by hand.

Field numbers are MidoNet's, so MidoNet agents and clusters can talk to ours.
Requests flow agent -> proxy (``ProxyRequest``), responses proxy -> agent
(``ProxyResponse``). ``decode_*`` raise :class:`DecodeError` for malformed
bytes; a well-formed request whose body is absent or unknown decodes with
``body=None`` so the server can answer UNKNOWN_MESSAGE.

Notifications are the hot path: an update's entries are encoded once and the
same bytes are wrapped for every subscriber (:func:`encode_notify_update`).
"""
from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Iterable
from typing import Any

from midonet_ryu.nsdb.state_codecs import Codec, EncodingError
from midonet_ryu.stateproxy.protowire import (
    LENGTH,
    VARINT,
    DecodeError,
    as_int32,
    encode_varint,
    expect,
    field_bytes,
    field_string,
    field_varint,
    iter_fields,
)

__all__ = ["DecodeError"]


class UpdateType(enum.IntEnum):
    SNAPSHOT = 1
    RELATIVE = 2


class CompletedCode(enum.IntEnum):
    NSDB_ERROR = 1
    UNHANDLED_ERROR = 2
    SERVER_SHUTDOWN = 3


class ErrorCode(enum.IntEnum):
    UNKNOWN_MESSAGE = 1
    UNKNOWN_PROTOCOL = 2
    UNKNOWN_CLIENT = 3
    NO_SUBSCRIPTION = 4
    SERVER_SHUTDOWN = 5
    INVALID_ARGUMENT = 6


# -- values ----------------------------------------------------------------------------------

_KV_FIELD = {"u32": 1, "u64": 2, "bytes": 3}


@dataclasses.dataclass(frozen=True)
class KeyValue:
    """``oneof data``: field 1 data_32, 2 data_64, 3 data_variable."""

    field: int
    data: int | bytes

    @classmethod
    def of(cls, codec: Codec, value: Any) -> KeyValue:
        return cls(_KV_FIELD[codec.wire_kind], codec.to_wire(value))

    def to(self, codec: Codec) -> Any:
        if self.field != _KV_FIELD[codec.wire_kind]:
            raise EncodingError(f"{codec.java_class} is not sent as KeyValue field {self.field}")
        return codec.from_wire(self.data)

    def encode(self) -> bytes:
        if self.field == 3:
            return field_bytes(3, bytes(self.data))  # type: ignore[arg-type]
        return field_varint(self.field, int(self.data))  # type: ignore[arg-type]


def _decode_kv(data: bytes) -> KeyValue:
    kv = None
    for field, wire_type, value in iter_fields(data):
        if field in (1, 2):
            expect(wire_type, VARINT, "KeyValue")
            assert isinstance(value, int)
            kv = KeyValue(field, value & 0xFFFFFFFF if field == 1 else value)
        elif field == 3:
            expect(wire_type, LENGTH, "KeyValue")
            kv = KeyValue(3, value)
    if kv is None:
        raise DecodeError("KeyValue without data")
    return kv


def _encode_uuid(value: uuid.UUID) -> bytes:
    n = value.int
    return field_varint(1, n >> 64) + field_varint(2, n & ((1 << 64) - 1))


def _decode_uuid(data: bytes) -> uuid.UUID:
    msb = lsb = None
    for field, wire_type, value in iter_fields(data):
        if field in (1, 2):
            expect(wire_type, VARINT, "UUID")
            if field == 1:
                msb = value
            else:
                lsb = value
    if msb is None or lsb is None:
        raise DecodeError("UUID needs msb and lsb")
    return uuid.UUID(int=(int(msb) << 64) | int(lsb))


# -- requests --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Subscribe:
    object_class: str
    object_id: uuid.UUID
    key_class: str
    value_class: str
    table_name: str
    table_arguments: tuple[str, ...] = ()
    last_version: int | None = None


@dataclasses.dataclass(frozen=True)
class Unsubscribe:
    subscription_id: int


@dataclasses.dataclass(frozen=True)
class Ping:
    pass


@dataclasses.dataclass(frozen=True)
class ProxyRequest:
    request_id: int
    body: Subscribe | Unsubscribe | Ping | None


def encode_request(req: ProxyRequest) -> bytes:
    out = field_varint(1, req.request_id)
    body = req.body
    if isinstance(body, Subscribe):
        sub = (field_string(1, body.object_class) + field_bytes(2, _encode_uuid(body.object_id))
               + field_string(3, body.key_class) + field_string(4, body.value_class)
               + field_string(5, body.table_name)
               + b"".join(field_string(6, a) for a in body.table_arguments))
        if body.last_version is not None:
            sub += field_varint(7, body.last_version)
        out += field_bytes(2, sub)
    elif isinstance(body, Unsubscribe):
        out += field_bytes(3, field_varint(1, body.subscription_id))
    elif isinstance(body, Ping):
        out += field_bytes(4, b"")
    return out


def _decode_subscribe(data: bytes) -> Subscribe:
    strings: dict[int, str] = {}
    args: list[str] = []
    object_id = None
    last_version = None
    for field, wire_type, value in iter_fields(data):
        if field in (1, 3, 4, 5, 6):
            expect(wire_type, LENGTH, "Subscribe")
            assert isinstance(value, bytes)
            try:
                text = value.decode()
            except UnicodeDecodeError as e:
                raise DecodeError("Subscribe: invalid UTF-8") from e
            if field == 6:
                args.append(text)
            else:
                strings[field] = text
        elif field == 2:
            expect(wire_type, LENGTH, "Subscribe")
            object_id = _decode_uuid(value)  # type: ignore[arg-type]
        elif field == 7:
            expect(wire_type, VARINT, "Subscribe")
            last_version = value
    if object_id is None:
        raise DecodeError("Subscribe without object_id")
    return Subscribe(strings.get(1, ""), object_id, strings.get(3, ""), strings.get(4, ""),
                     strings.get(5, ""), tuple(args), last_version)  # type: ignore[arg-type]


def decode_request(data: bytes) -> ProxyRequest:
    request_id = None
    body: Subscribe | Unsubscribe | Ping | None = None
    for field, wire_type, value in iter_fields(data):
        if field == 1:
            expect(wire_type, VARINT, "ProxyRequest.request_id")
            request_id = value
        elif field == 2:
            expect(wire_type, LENGTH, "ProxyRequest.subscribe")
            body = _decode_subscribe(value)  # type: ignore[arg-type]
        elif field == 3:
            expect(wire_type, LENGTH, "ProxyRequest.unsubscribe")
            sid = 0
            for f, wt, v in iter_fields(value):  # type: ignore[arg-type]
                if f == 1:
                    expect(wt, VARINT, "Unsubscribe")
                    sid = v  # type: ignore[assignment]
            body = Unsubscribe(sid)
        elif field == 4:
            expect(wire_type, LENGTH, "ProxyRequest.ping")
            list(iter_fields(value))  # type: ignore[arg-type]
            body = Ping()
    if request_id is None:
        raise DecodeError("ProxyRequest without request_id")
    return ProxyRequest(request_id, body)  # type: ignore[arg-type]


# -- responses -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Entry:
    """A table entry; ``value`` None in a RELATIVE update means the key was removed."""

    key: KeyValue
    value: KeyValue | None
    version: int


@dataclasses.dataclass(frozen=True)
class Update:
    type: UpdateType
    current_version: int
    begin: bool
    end: bool
    entries: tuple[Entry, ...] = ()


@dataclasses.dataclass(frozen=True)
class Completed:
    code: CompletedCode
    nsdb_code: int | None = None
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Notify:
    subscription_id: int
    body: Update | Completed | None


@dataclasses.dataclass(frozen=True)
class Acknowledge:
    subscription_id: int
    last_version: int | None = None


@dataclasses.dataclass(frozen=True)
class Pong:
    pass


@dataclasses.dataclass(frozen=True)
class Error:
    code: ErrorCode
    description: str = ""


@dataclasses.dataclass(frozen=True)
class ProxyResponse:
    request_id: int
    body: Notify | Acknowledge | Pong | Error | None


def encode_entry(key: KeyValue, value: KeyValue | None, version: int) -> bytes:
    """An encoded Notify.Entry, wrapped as field 5 of Update (ready to concatenate)."""
    body = field_bytes(1, key.encode())
    if value is not None:
        body += field_bytes(2, value.encode())
    body += field_varint(3, version)
    return field_bytes(5, body)


def encode_update_body(update_type: UpdateType, current_version: int, begin: bool, end: bool,
                       encoded_entries: Iterable[bytes]) -> bytes:
    """Update message bytes from entries already passed through :func:`encode_entry`."""
    return (field_varint(1, int(update_type)) + field_varint(2, current_version)
            + field_varint(3, int(begin)) + field_varint(4, int(end))
            + b"".join(encoded_entries))


def encode_notify_update(request_id: int, subscription_id: int, update_body: bytes) -> bytes:
    """A whole ProxyResponse carrying ``update_body`` (shared by all subscribers)."""
    notify = field_varint(1, subscription_id) + field_bytes(4, update_body)
    return field_varint(1, request_id) + field_bytes(2, notify)


class NotifyFramer:
    """Frames notifications for one subscription with its header fields pre-encoded.

    The fan-out hot path: per subscriber and update only two varints are
    computed; the update body (``shared_update_field``) is encoded once for all.
    """

    __slots__ = ("_rid", "_sid")

    def __init__(self, request_id: int, subscription_id: int) -> None:
        self._rid = field_varint(1, request_id) + b"\x12"  # notify = field 2, LENGTH
        self._sid = field_varint(1, subscription_id)

    def frame(self, update_field: bytes) -> bytes:
        """A length-prefixed ProxyResponse around ``shared_update_field(body)``."""
        notify = self._sid + update_field
        payload = self._rid + encode_varint(len(notify)) + notify
        return encode_varint(len(payload)) + payload


def shared_update_field(update_body: bytes) -> bytes:
    """Notify field 4 (update) around an encoded Update, shared by all subscribers."""
    return b"\x22" + encode_varint(len(update_body)) + update_body


def encode_response(resp: ProxyResponse) -> bytes:
    out = field_varint(1, resp.request_id)
    body = resp.body
    if isinstance(body, Notify):
        inner = field_varint(1, body.subscription_id)
        if isinstance(body.body, Update):
            u = body.body
            inner += field_bytes(4, encode_update_body(
                u.type, u.current_version, u.begin, u.end,
                (encode_entry(e.key, e.value, e.version) for e in u.entries)))
        elif isinstance(body.body, Completed):
            c = body.body
            comp = field_varint(1, int(c.code))
            if c.nsdb_code is not None:
                comp += field_varint(2, c.nsdb_code)
            if c.description:
                comp += field_string(3, c.description)
            inner += field_bytes(2, comp)
        out += field_bytes(2, inner)
    elif isinstance(body, Acknowledge):
        ack = field_varint(1, body.subscription_id)
        if body.last_version is not None:
            ack += field_varint(2, body.last_version)
        out += field_bytes(3, ack)
    elif isinstance(body, Pong):
        out += field_bytes(4, b"")
    elif isinstance(body, Error):
        err = field_varint(1, int(body.code))
        if body.description:
            err += field_string(2, body.description)
        out += field_bytes(5, err)
    return out


def _enum(kind: type[enum.IntEnum], value: int, what: str) -> Any:
    try:
        return kind(value)
    except ValueError as e:
        raise DecodeError(f"{what}: unknown value {value}") from e


def _text(value: bytes) -> str:
    return value.decode(errors="replace")


def _decode_entry(data: bytes) -> Entry:
    key = value = None
    version = 0
    for field, wire_type, v in iter_fields(data):
        if field == 1:
            expect(wire_type, LENGTH, "Entry.key")
            key = _decode_kv(v)  # type: ignore[arg-type]
        elif field == 2:
            expect(wire_type, LENGTH, "Entry.value")
            value = _decode_kv(v)  # type: ignore[arg-type]
        elif field == 3:
            expect(wire_type, VARINT, "Entry.version")
            version = as_int32(v)  # type: ignore[arg-type]
    if key is None:
        raise DecodeError("Entry without key")
    return Entry(key, value, version)


def _decode_update(data: bytes) -> Update:
    utype = None
    version = 0
    begin = end = False
    entries = []
    for field, wire_type, v in iter_fields(data):
        if field == 5:
            expect(wire_type, LENGTH, "Update.entries")
            entries.append(_decode_entry(v))  # type: ignore[arg-type]
            continue
        expect(wire_type, VARINT, "Update")
        if field == 1:
            utype = _enum(UpdateType, v, "Update.type")  # type: ignore[arg-type]
        elif field == 2:
            version = v
        elif field == 3:
            begin = bool(v)
        elif field == 4:
            end = bool(v)
    if utype is None:
        raise DecodeError("Update without type")
    return Update(utype, version, begin, end, tuple(entries))  # type: ignore[arg-type]


def _decode_completed(data: bytes) -> Completed:
    code = CompletedCode.UNHANDLED_ERROR
    nsdb_code = None
    description = ""
    for field, wire_type, v in iter_fields(data):
        if field == 1:
            expect(wire_type, VARINT, "Completed.code")
            code = _enum(CompletedCode, v, "Completed.code")  # type: ignore[arg-type]
        elif field == 2:
            expect(wire_type, VARINT, "Completed.nsdb_code")
            nsdb_code = as_int32(v)  # type: ignore[arg-type]
        elif field == 3:
            expect(wire_type, LENGTH, "Completed.description")
            description = _text(v)  # type: ignore[arg-type]
    return Completed(code, nsdb_code, description)


def decode_response(data: bytes) -> ProxyResponse:
    request_id = None
    body: Notify | Acknowledge | Pong | Error | None = None
    for field, wire_type, value in iter_fields(data):
        if field == 1:
            expect(wire_type, VARINT, "ProxyResponse.request_id")
            request_id = value
            continue
        if field not in (2, 3, 4, 5):
            continue
        expect(wire_type, LENGTH, "ProxyResponse")
        fields = list(iter_fields(value))  # type: ignore[arg-type]
        if field == 2:
            sid = 0
            inner: Update | Completed | None = None
            for f, wt, v in fields:
                if f == 1:
                    expect(wt, VARINT, "Notify.subscription_id")
                    sid = v  # type: ignore[assignment]
                elif f == 2:
                    expect(wt, LENGTH, "Notify.completed")
                    inner = _decode_completed(v)  # type: ignore[arg-type]
                elif f == 4:
                    expect(wt, LENGTH, "Notify.update")
                    inner = _decode_update(v)  # type: ignore[arg-type]
            body = Notify(sid, inner)
        elif field == 3:
            sid = 0
            last = None
            for f, wt, v in fields:
                expect(wt, VARINT, "Acknowledge")
                if f == 1:
                    sid = v  # type: ignore[assignment]
                elif f == 2:
                    last = v
            body = Acknowledge(sid, last)  # type: ignore[arg-type]
        elif field == 4:
            body = Pong()
        else:
            code = ErrorCode.UNKNOWN_MESSAGE
            desc = ""
            for f, wt, v in fields:
                if f == 1:
                    expect(wt, VARINT, "Error.code")
                    code = _enum(ErrorCode, v, "Error.code")  # type: ignore[arg-type]
                elif f == 2:
                    expect(wt, LENGTH, "Error.description")
                    desc = _text(v)  # type: ignore[arg-type]
            body = Error(code, desc)
    if request_id is None:
        raise DecodeError("ProxyResponse without request_id")
    return ProxyResponse(request_id, body)  # type: ignore[arg-type]
