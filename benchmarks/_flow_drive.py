"""Paced packet injection into dummy Open vSwitch ports, and timed delivery.

The flow-setup benchmark offers frames at a controlled rate into a lab VM
port's unix socket (2-byte length framing) and times each one's arrival at
another VM port's socket. One loop does both, single-threaded, with
``select``: a second thread would only add GIL hand-offs to every
timestamp. Every frame carries a packet id (the UDP payload's first 4
bytes, or the TCP sequence number) that survives the rewrites a router
and NAT do, so each delivery is matched to its send time.

The loop also answers ARP requests that arrive at the receiving port (a
virtual router resolving the destination VM), so routed paths keep working
when an ARP entry goes stale mid-run.
"""
from __future__ import annotations

import dataclasses
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence

from midonet_ryu.simulation import packet_builders as fr

_LEN = struct.Struct(">H")
_U32 = struct.Struct("!I")


def packet_id(frame: bytes) -> int | None:
    """The id a frame carries (UDP payload or TCP seq), None for other frames."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    l4 = 14 + ihl
    if proto == 17 and len(frame) >= l4 + 12:
        return _U32.unpack_from(frame, l4 + 8)[0]
    if proto == 6 and len(frame) >= l4 + 8:
        return _U32.unpack_from(frame, l4 + 4)[0]
    return None


def udp_tagged(src_mac: str, dst_mac: str, src_ip: int, dst_ip: int, sport: int, dport: int,
               pid: int) -> bytes:
    return fr.udp_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, _U32.pack(pid))


def tcp_tagged(src_mac: str, dst_mac: str, src_ip: int, dst_ip: int, sport: int, dport: int,
               pid: int) -> bytes:
    return fr.ethernet(dst_mac, src_mac, 0x0800,
                       fr.ipv4(src_ip, dst_ip, 6, fr.tcp(sport, dport, 0x02, pid)))


@dataclasses.dataclass
class Outcome:
    """What one paced run of frames did."""

    offered_rate: float
    sent: int
    delivered: int
    send_s: float  # first send -> last send
    span_s: float  # first send -> last delivery (or last send)
    latencies_ms: list[float]  # of delivered frames, in send order
    duplicates: int = 0
    arp_answered: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.delivered

    @property
    def delivered_per_s(self) -> float:
        return self.delivered / self.span_s if self.span_s > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        xs = sorted(self.latencies_ms)
        k = min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))
        return xs[k]


class Endpoint:
    """A raw view of a connected lab VM port's socket (non-blocking reads)."""

    def __init__(self, sock: socket.socket, mac: str | None = None, ip: int | None = None) -> None:
        self.sock = sock
        self.mac = mac
        self.ip = ip
        self.buf = b""

    def send(self, frame: bytes) -> None:
        self.sock.sendall(_LEN.pack(len(frame)) + frame)

    def read_frames(self) -> list[bytes]:
        """Every complete frame readable now (one recv)."""
        try:
            data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return []
        if not data:
            raise ConnectionError("the switch closed a VM port connection")
        self.buf += data
        out = []
        buf = self.buf
        off = 0
        while len(buf) - off >= 2:
            (n,) = _LEN.unpack_from(buf, off)
            if len(buf) - off < 2 + n:
                break
            out.append(buf[off + 2:off + 2 + n])
            off += 2 + n
        self.buf = buf[off:]
        return out

    def drain(self, quiet: float = 0.05) -> int:
        """Discard what arrives until ``quiet`` seconds pass with nothing."""
        n = 0
        while select.select([self.sock], [], [], quiet)[0]:
            got = self.read_frames()
            if not got and not self.buf:
                break
            n += len(got)
        return n


def _arp_reply_for(frame: bytes, ep: Endpoint) -> bytes | None:
    """A reply from ``ep`` when ``frame`` is an ARP request for ``ep.ip``."""
    if ep.mac is None or ep.ip is None or len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    if frame[20:22] != b"\x00\x01" or _U32.unpack_from(frame, 38)[0] != ep.ip:
        return None
    sha = ":".join(f"{b:02x}" for b in frame[22:28])
    spa = _U32.unpack_from(frame, 28)[0]
    return fr.arp_reply(ep.mac, ep.ip, sha, spa)


def drive(txs: Sequence[Endpoint], rxs: Sequence[Endpoint], frames: Sequence[bytes],
          ids: Sequence[int], rate: float, settle: float = 0.5,
          tx_index: Sequence[int] | None = None, max_drain: float = 3.0,
          on_other: Callable[[bytes], None] | None = None) -> Outcome:
    """Offer ``frames`` at ``rate`` per second; time their arrivals at ``rxs``.

    Frame ``i`` goes into ``txs[tx_index[i]]`` (default ``i % len(txs)``).
    Several ports on each side
    because a dummy port's socket moves only one frame per ovs-vswitchd
    main-loop iteration in each direction (and its queues drop beyond 100):
    with one port the benchmark would measure that pump, not flow setup.

    Sends are scheduled at fixed instants (``start + i / rate``): a late
    loop catches up with a burst rather than stretching the run, so the
    offered rate is the real one. After the last send the loop waits until
    every frame arrived, nothing arrived for ``settle`` seconds, or
    ``max_drain`` seconds passed (an overloaded path's backlog counts as
    lost beyond that).
    """
    n = len(frames)
    want = {pid: i for i, pid in enumerate(ids)}
    sent_at = [0.0] * n
    got_at: dict[int, float] = {}
    duplicates = arp = 0
    interval = 1.0 / rate
    wire = [_LEN.pack(len(f)) + f for f in frames]
    ntx = len(txs)
    port_of = list(tx_index) if tx_index is not None else [k % ntx for k in range(n)]
    by_fd = {ep.sock.fileno(): ep for ep in rxs}
    rsocks = [ep.sock for ep in rxs]
    clock = time.perf_counter
    start = clock()
    last_rx = start
    i = 0
    while True:
        now = clock()
        if i < n:
            first = i
            while i < n and start + i * interval <= now:
                i += 1
            if i > first:
                for j in range(ntx):
                    chunk = b"".join(wire[k] for k in range(first, i) if port_of[k] == j)
                    if chunk:
                        txs[j].sock.sendall(chunk)
                t = clock()
                for k in range(first, i):
                    sent_at[k] = t
            wait = max(0.0, start + i * interval - clock()) if i < n else 0.0
        else:
            if len(got_at) >= n:
                break
            last_send = sent_at[n - 1]
            if now - max(last_rx, last_send) > settle or now - last_send > max_drain:
                break
            wait = settle
        ready = select.select(rsocks, [], [], wait)[0]
        if not ready:
            continue
        for sock in ready:
            rx = by_fd[sock.fileno()]
            got = rx.read_frames()
            # Stamped after the read: frames that arrived while this process
            # waited for the CPU count that wait too (conservative), where a
            # stamp taken before the read would credit later frames with
            # latencies shorter than the path's.
            t = clock()
            for frame in got:
                pid = packet_id(frame)
                k = want.get(pid) if pid is not None else None
                if k is None:
                    reply = _arp_reply_for(frame, rx)
                    if reply is not None:
                        rx.send(reply)
                        arp += 1
                    elif on_other is not None:
                        on_other(frame)
                    continue
                if k in got_at:
                    duplicates += 1
                    continue
                got_at[k] = t
                last_rx = t
    first_send = sent_at[0] if n else start
    last_send = sent_at[n - 1] if n else start
    end = max(last_send, max(got_at.values(), default=last_send))
    lat = [(got_at[k] - sent_at[k]) * 1e3 for k in sorted(got_at)]
    return Outcome(rate, n, len(got_at), last_send - first_send, end - first_send, lat,
                   duplicates, arp)
