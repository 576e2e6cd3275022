"""This host's flow state as a file: what a restarted agent reloads.

Why: conntrack, NAT and load-balancer keys live in the agent's memory. A
restarted agent that forgot them re-translates an established SNAT
connection to a new port (the server answers RST) and drops the replies a
stateful chain accepts only as return traffic, as soon as its reconcile
removes the old run's flows. MidoNet kept per-port flow state in local
storage for the same reason.

What is kept: every conntrack and NAT key with its absolute expiry (the
newest ``max_keys`` of them), and the SNAT port blocks the host leased, so
the restarted agent can take them back (``NatLeaser.adopt``) before any
other host reuses their ports. Keys imported from peers are kept too:
replies still arrive here.

The format is JSON, one object, versioned; a file of another host, another
version or one that does not parse is refused with a reason and nothing of
it is loaded (:class:`BadStateFile`). Pure: bytes in, bytes out; the agent
reads and writes the file, behind the datapath.
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable
from typing import Any

from midonet_ryu.simulation.state import ConntrackKey, InMemoryState, NatBinding, NatKey, NatKeyType

FORMAT_VERSION = 1
DEFAULT_MAX_KEYS = 100_000


class BadStateFile(ValueError):
    """A flow-state file that cannot be loaded (nothing of it was)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Loaded:
    conntrack: int
    nat: int
    expired: int  # keys whose time passed while the agent was down
    blocks: tuple[tuple[uuid.UUID, int, int], ...]  # (device, ip, block) leased before


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """A copy of the state taken at once (cheap), encoded later (not: the
    agent encodes in another thread while simulations go on)."""

    keys: tuple[tuple[Any, Any, float], ...]
    blocks: tuple[tuple[uuid.UUID, int, int], ...]

    @classmethod
    def of(cls, local: InMemoryState, max_keys: int = DEFAULT_MAX_KEYS) -> Snapshot:
        return cls(tuple(local.keys_with_expiry(max_keys)), tuple(local.leased_blocks()))

    def encode(self, host_id: uuid.UUID, now: float) -> bytes:
        conntrack: list[list[Any]] = []
        nat: list[list[Any]] = []
        for key, value, expiry in reversed(self.keys):  # oldest first, as reloaded
            if expiry <= now:
                continue
            if isinstance(key, ConntrackKey):
                conntrack.append([str(key.device_id), key.ip_src, key.tp_src, key.ip_dst,
                                  key.tp_dst, key.proto, expiry])
            else:
                nat.append([key.type.value, key.ip_src, key.tp_src, key.ip_dst, key.tp_dst,
                            key.proto, str(key.device_id), value.ip, value.port, expiry])
        blocks = [[str(device), ip, block] for device, ip, block in self.blocks]
        return json.dumps({"version": FORMAT_VERSION, "host": str(host_id), "saved": now,
                           "conntrack": conntrack, "nat": nat, "blocks": blocks},
                          separators=(",", ":")).encode()


def dump(host_id: uuid.UUID, local: InMemoryState, now: float,
         max_keys: int = DEFAULT_MAX_KEYS) -> bytes:
    """The state worth reloading: the newest ``max_keys`` unexpired keys."""
    return Snapshot.of(local, max_keys).encode(host_id, now)


def load(host_id: uuid.UUID, local: InMemoryState, data: bytes, now: float) -> Loaded:
    """Put the file's unexpired keys and blocks into ``local``; all or nothing."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadStateFile(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadStateFile("not a JSON object")
    if doc.get("version") != FORMAT_VERSION:
        raise BadStateFile(f"format version {doc.get('version')!r}, this agent reads "
                           f"{FORMAT_VERSION}")
    if doc.get("host") != str(host_id):
        raise BadStateFile(f"written by host {doc.get('host')!r}, this is {host_id}")
    try:
        cts = [(ConntrackKey(uuid.UUID(d), _u32(s), _u16(sp), _u32(t), _u16(tp), _u8(p)),
                None, _time(e)) for d, s, sp, t, tp, p, e in doc.get("conntrack", ())]
        nats = [(NatKey(NatKeyType(kind), _u32(s), _u16(sp), _u32(t), _u16(tp), _u8(p),
                        uuid.UUID(d)), NatBinding(_u32(bip), _u16(bport)), _time(e))
                for kind, s, sp, t, tp, p, d, bip, bport, e in doc.get("nat", ())]
        blocks = tuple((uuid.UUID(d), _u32(ip), _int(b, 1023))
                       for d, ip, b in doc.get("blocks", ()))
    except (TypeError, ValueError, AttributeError) as e:
        raise BadStateFile(f"malformed entry: {e}") from None
    live = [(k, v, e) for k, v, e in (*cts, *nats) if e > now]
    for key, value, expiry in sorted(live, key=lambda entry: entry[2]):
        local.put_key_until(key, value, expiry)
    for device, ip, block in blocks:
        local.lease_snat_block(device, ip, block)
    n_ct = sum(1 for k, _, _ in live if isinstance(k, ConntrackKey))
    return Loaded(n_ct, len(live) - n_ct, len(cts) + len(nats) - len(live), blocks)


def forget_blocks(local: InMemoryState, lost: Iterable[tuple[uuid.UUID, int, int]]) -> int:
    """Blocks another host holds now: their ports are not ours to use, so the
    keys translated into them go (their connections are lost). Returns how many."""
    return sum(local.release_snat_block_and_keys(device, ip, block)
               for device, ip, block in lost)


def _u32(v: Any) -> int:
    return _int(v, 0xFFFFFFFF)


def _u16(v: Any) -> int:
    return _int(v, 0xFFFF)


def _u8(v: Any) -> int:
    return _int(v, 0xFF)


def _int(v: Any, top: int) -> int:
    if type(v) is not int or not 0 <= v <= top:
        raise ValueError(f"{v!r} is not an integer from 0 to {top}")
    return v


def _time(v: Any) -> float:
    if type(v) not in (int, float):
        raise ValueError(f"{v!r} is not a time")
    return float(v)
