"""Just enough of the protobuf (proto2) wire format for the State API.

Hand-written so the agent and the cluster need no protobuf runtime or
generated code; the State API is a dozen small messages. Decoding is strict
about structure (truncation, bad wire types, oversized varints raise
:class:`DecodeError`) and skips unknown fields as protobuf does.
"""
from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LENGTH = 2
FIXED32 = 5


class DecodeError(ValueError):
    """Bytes that are not a valid message of the expected type."""


def encode_varint(value: int) -> bytes:
    """Unsigned varint; negative values are sign-extended to 64 bits (int32/int64 style)."""
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes | memoryview, pos: int, limit: int) -> tuple[int, int]:
    """(value, new position); at most 10 bytes, as protobuf allows."""
    result = 0
    shift = 0
    while True:
        if pos >= limit:
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >= 1 << 64:
                raise DecodeError("varint overflows 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def as_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def tag(field: int, wire_type: int) -> bytes:
    return encode_varint((field << 3) | wire_type)


def field_varint(field: int, value: int) -> bytes:
    return tag(field, VARINT) + encode_varint(value)


def field_bytes(field: int, value: bytes) -> bytes:
    return tag(field, LENGTH) + encode_varint(len(value)) + value


def field_string(field: int, value: str) -> bytes:
    return field_bytes(field, value.encode())


def iter_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value): ints for varints and fixed, bytes for LENGTH."""
    pos = 0
    limit = len(data)
    while pos < limit:
        key, pos = decode_varint(data, pos, limit)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wire_type == VARINT:
            value, pos = decode_varint(data, pos, limit)
            yield field, wire_type, value
        elif wire_type == LENGTH:
            size, pos = decode_varint(data, pos, limit)
            if size > limit - pos:
                raise DecodeError("length-delimited field runs past the message")
            yield field, wire_type, bytes(data[pos:pos + size])
            pos += size
        elif wire_type == FIXED64:
            if pos + 8 > limit:
                raise DecodeError("truncated fixed64")
            yield field, wire_type, int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wire_type == FIXED32:
            if pos + 4 > limit:
                raise DecodeError("truncated fixed32")
            yield field, wire_type, int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire_type}")


def expect(wire_type: int, wanted: int, what: str) -> None:
    if wire_type != wanted:
        raise DecodeError(f"{what}: wire type {wire_type}, expected {wanted}")
