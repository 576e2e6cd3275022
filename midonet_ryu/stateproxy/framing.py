"""varint32 length framing (Netty's ProtobufVarint32 framer), with a size bound.

A peer announcing a frame larger than ``max_frame`` is refused before any of
it is buffered, so a bad or hostile peer cannot make us hold unbounded data.
"""
from __future__ import annotations

from midonet_ryu.stateproxy.protowire import DecodeError, encode_varint

MAX_VARINT32_BYTES = 5


def frame(payload: bytes) -> bytes:
    return encode_varint(len(payload)) + payload


class FrameDecoder:
    """Accumulates stream bytes and yields whole frames."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._need: int | None = None  # payload length of the frame being read

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by ``data``; DecodeError on a bad or oversized header."""
        self._buf += data
        frames = []
        buf = self._buf
        pos = 0
        while True:
            if self._need is None:
                length = 0
                shift = 0
                i = pos
                while True:
                    if i >= len(buf):
                        if i - pos >= MAX_VARINT32_BYTES:
                            raise DecodeError("frame length varint too long")
                        del buf[:pos]
                        return frames
                    byte = buf[i]
                    i += 1
                    length |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        break
                    shift += 7
                    if i - pos >= MAX_VARINT32_BYTES:
                        raise DecodeError("frame length varint too long")
                if length > self.max_frame:
                    raise DecodeError(f"frame of {length} bytes exceeds {self.max_frame}")
                self._need = length
                pos = i
            if len(buf) - pos < self._need:
                del buf[:pos]
                return frames
            frames.append(bytes(buf[pos:pos + self._need]))
            pos += self._need
            self._need = None
