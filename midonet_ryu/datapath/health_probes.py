"""Health monitors: TCP probes of the pool members bound to this host.

Why the member's own host probes, and from its router port: a member lives
on a virtual network the cluster cannot reach, and whatever it answers is
simulated on its own host (ingress decides), so only that host's agent can
see the answer. The agent writes the probe straight into the member's port
(a packet-out) as if the router port on the member's subnet sent it: a SYN
from the router port's address and MAC, from port :data:`PROBE_PORT`. The
member's SYN-ACK (alive) or RST (refused) to that address and port is caught
by one table-0 flow per member and sent to the agent, before any simulation;
a SYN-ACK is answered with a RST, so nothing stays half-open in the member.
Probes go around the member's port filters, as a monitor on the router would.

How a member is found: its MAC from the bridge's IP-MAC table or the
router's ARP table, its port from the bridge's MAC table; a port bound here
is probed. A member nobody has resolved yet is ARPed for from the router
port (the router's own ARP request, simulated), by every host with a port
on its bridge, at most once a delay; the answer fills both tables. Once
found, a member stays found while its port is bound here, though the
learned entries age out (a dead member sends nothing to keep them).

Verdicts: ``max_retries`` failed probes in a row (refused, or unanswered
within ``timeout``) make a member INACTIVE; one answered probe makes it
ACTIVE. Probes start ``delay`` apart, and after a failure the next follows
``delay / max_retries`` later (haproxy's fastinter), so a member that starts
refusing is INACTIVE within ``delay x max_retries``, one that stops
answering within ``delay + (max_retries - 1) x (timeout + delay /
max_retries) + timeout``. A member that stops being probed here (its monitor
went, or was disabled, or the member moved) and was made INACTIVE by this
host is made ACTIVE again, since nothing would otherwise ever bring it back.

Pure: the agent gives it the time, the topology, the state tables and the
local ports, and sends the messages and writes the statuses it returns.
"""
from __future__ import annotations

import dataclasses
import itertools
import struct
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.simulation.addr import in_subnet, ip_to_int, parse_cidr
from midonet_ryu.simulation.packet_builders import arp_request, ethernet, ipv4, tcp_segment
from midonet_ryu.topology.lb import (
    HealthMonitor,
    HealthMonitorType,
    LBStatus,
    LoadBalancer,
    Pool,
    PoolMember,
)
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.router import Router

PROBE_PORT = 65000  # the TCP source port of every probe (doc/datapath.md)
TCP_SYN, TCP_RST, TCP_ACK = 0x02, 0x04, 0x10
# frames this module reads: Ethernet (untagged) + IPv4 + TCP header
_MIN_ANSWER = 14 + 20 + 20


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One member to probe: where it is and how the probes look."""

    member_id: uuid.UUID
    port_id: uuid.UUID
    ofport: int
    member_ip: int
    member_port: int
    member_mac: str
    source_ip: int  # the router port on the member's subnet
    source_mac: str
    delay: float
    timeout: float
    max_retries: int

    @property
    def answer_match(self) -> of.Match:
        return (("in_port", self.ofport), ("eth_type", 0x0800), ("ip_proto", 6),
                ("ipv4_src", self.member_ip), ("ipv4_dst", self.source_ip),
                ("tcp_src", self.member_port), ("tcp_dst", PROBE_PORT))


@dataclasses.dataclass(frozen=True, slots=True)
class Located:
    targets: dict[uuid.UUID, ProbeTarget]
    # (router port id, member ip, delay): members to ARP for from that port
    unresolved: tuple[tuple[uuid.UUID, int, float], ...]


def _router_side(topology: Any, router: Router, ip: int) -> tuple[Port, Port] | None:
    """The router port whose subnet holds ``ip``, and the bridge port it is linked to."""
    for port_id in router.port_ids:
        rp = topology.get(Port, port_id)
        if (rp is None or rp.port_subnet is None or rp.port_address is None
                or rp.port_mac is None or rp.peer_id is None):
            continue
        net, plen = parse_cidr(rp.port_subnet)
        if in_subnet(ip, net, plen):
            bp = topology.get(Port, rp.peer_id)
            if bp is not None and bp.network_id is not None:
                return rp, bp
    return None


def _mac_of(state: Any, network_id: uuid.UUID, router_id: uuid.UUID, ip: int) -> str | None:
    mac = state.ip4_mac_table(network_id).get(ip)
    if mac:
        return str(mac)
    entry = state.arp_table(router_id).get(ip)
    if entry is None:
        return None
    return str(entry) if isinstance(entry, str) else entry.mac


def monitored_members(topology: Any) -> Iterable[tuple[HealthMonitor, Router, PoolMember]]:
    """Every enabled member of every enabled pool with an enabled TCP monitor,
    with the router that balances to it."""
    get = topology.get
    for hm in topology.objects(HealthMonitor):
        if not hm.admin_state_up or hm.type is not HealthMonitorType.TCP:
            continue
        for pool_id in hm.pool_ids:
            pool = get(Pool, pool_id)
            if pool is None or not pool.admin_state_up or pool.health_monitor_id != hm.id:
                continue
            lb = get(LoadBalancer, pool.load_balancer_id)
            router = get(Router, lb.router_id) if lb is not None else None
            if router is None:
                continue
            for member_id in pool.pool_member_ids:
                member = get(PoolMember, member_id)
                if member is not None and member.admin_state_up:
                    yield hm, router, member


def locate(topology: Any, state: Any, local_ofports: Mapping[uuid.UUID, int],
           previous: Mapping[uuid.UUID, ProbeTarget]) -> Located:
    """The monitored members bound here, and those nobody has resolved yet
    on a bridge with a port here."""
    targets: dict[uuid.UUID, ProbeTarget] = {}
    unresolved: list[tuple[uuid.UUID, int, float]] = []
    local_networks = {p.network_id for p in (topology.get(Port, pid) for pid in local_ofports)
                      if p is not None}
    for hm, router, member in monitored_members(topology):
        ip = ip_to_int(member.address)
        side = _router_side(topology, router, ip)
        if side is None:
            continue  # not on a subnet of the router: not probed (doc/load-balancing.md)
        rp, bp = side
        network_id = bp.network_id
        assert network_id is not None and rp.port_address is not None and rp.port_mac
        mac = _mac_of(state, network_id, router.id, ip)
        port_id = state.mac_table(network_id, bp.vlan_id).get(mac) if mac else None
        source_ip = ip_to_int(rp.port_address)
        prev = previous.get(member.id)
        if port_id is None and prev is not None and prev.port_id in local_ofports and (
                prev.member_ip, prev.source_ip) == (ip, source_ip):
            port_id, mac = prev.port_id, prev.member_mac
        if port_id is not None and port_id in local_ofports and mac:
            targets[member.id] = ProbeTarget(
                member.id, port_id, local_ofports[port_id], ip, member.protocol_port, mac,
                source_ip, rp.port_mac, float(hm.delay), float(min(hm.timeout, hm.delay)),
                hm.max_retries)
        elif port_id is None and network_id in local_networks:
            unresolved.append((rp.id, ip, float(hm.delay)))
    return Located(targets, tuple(unresolved))


@dataclasses.dataclass(slots=True)
class _Probe:
    target: ProbeTarget
    failures: int = 0
    verdict: bool | None = None  # None: nothing concluded yet
    seq: int | None = None  # the outstanding probe's sequence number
    sent_at: float = 0.0
    next_at: float = 0.0


@dataclasses.dataclass(slots=True)
class ProbeResult:
    """What one call asks the shell to do."""

    messages: list[of.Message] = dataclasses.field(default_factory=list)
    sent: int = 0
    failed: int = 0
    answered: int = 0


class HealthProbes:
    """The probes of this host's members, their verdicts and their flows."""

    def __init__(self, generation: int) -> None:
        self._cookie = pl.Cookie(pl.Origin.HEALTH_PROBE, generation, 0).encode()
        self._probes: dict[uuid.UUID, _Probe] = {}
        self._by_answer: dict[tuple[int, int, int], _Probe] = {}
        # members this host made INACTIVE and no longer probes
        self._released: set[uuid.UUID] = set()
        self._writing: set[uuid.UUID] = set()
        self._seqs = itertools.count(1)
        # (router port, member ip) -> when it was last ARPed for
        self._asked: dict[tuple[uuid.UUID, int], float] = {}

    @property
    def targets(self) -> dict[uuid.UUID, ProbeTarget]:
        return {mid: p.target for mid, p in self._probes.items()}

    def retarget(self, targets: Mapping[uuid.UUID, ProbeTarget], now: float) -> ProbeResult:
        """Follow what :func:`locate` found: new members are probed at once,
        moved ones start over, gone ones lose their flow."""
        out = ProbeResult()
        for mid in list(self._probes):
            probe = self._probes[mid]
            new = targets.get(mid)
            if new == probe.target:
                continue
            if new is not None and _same_place(new, probe.target):
                probe.target = new  # only the monitor's timing changed
                continue
            self._forget(mid, probe, out)
        for mid, target in targets.items():
            if mid not in self._probes:
                probe = self._probes[mid] = _Probe(target, next_at=now)
                self._by_answer[_answer_key(target)] = probe
                self._released.discard(mid)
                out.messages.append(of.FlowMod(
                    pl.TABLE_CLASSIFY, pl.PRIO_HEALTH_PROBE, self._cookie, target.answer_match,
                    (("output", of.OFPP_CONTROLLER),)))
        return out

    def _forget(self, mid: uuid.UUID, probe: _Probe, out: ProbeResult) -> None:
        del self._probes[mid]
        self._by_answer.pop(_answer_key(probe.target), None)
        if probe.verdict is False:
            self._released.add(mid)
        out.messages.append(of.FlowDelete(pl.TABLE_CLASSIFY, match=probe.target.answer_match,
                                          strict_priority=pl.PRIO_HEALTH_PROBE))

    def flows(self) -> list[of.Message]:
        """For a (re)connected switch: every probe flow of any run goes, this
        run's are installed again."""
        out: list[of.Message] = [of.FlowDelete(
            pl.TABLE_CLASSIFY, self._cookie & pl.ORIGIN_MASK, pl.ORIGIN_MASK)]
        out += [of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_HEALTH_PROBE, self._cookie,
                           p.target.answer_match, (("output", of.OFPP_CONTROLLER),))
                for p in self._probes.values()]
        return out

    def due(self, now: float) -> ProbeResult:
        """Time out unanswered probes and send the ones whose turn it is."""
        out = ProbeResult()
        for probe in self._probes.values():
            t = probe.target
            if probe.seq is not None and now >= probe.sent_at + t.timeout:
                self._failed(probe, now)
                out.failed += 1
            if probe.seq is None and now >= probe.next_at:
                seq = (next(self._seqs) * 2654435761) & 0xFFFFFFFF
                probe.seq, probe.sent_at = seq, now
                probe.next_at = max(probe.next_at + t.delay, now)
                out.messages.append(of.PacketOut(
                    of.OFPP_CONTROLLER, (("output", t.ofport),),
                    _segment(t, seq, 0, TCP_SYN)))
                out.sent += 1
        return out

    def answer(self, in_port: int | None, frame: bytes, now: float) -> ProbeResult:
        """A frame the probe flows caught: a member's SYN-ACK or RST."""
        out = ProbeResult()
        parsed = _parse_answer(frame)
        if parsed is None or in_port is None:
            return out
        src, sport, seq, ack, flags = parsed
        probe = self._by_answer.get((in_port, src, sport))
        if probe is None:
            return out
        if flags & TCP_SYN and flags & TCP_ACK:
            # close what the SYN opened in the member, answered or late
            out.messages.append(of.PacketOut(
                of.OFPP_CONTROLLER, (("output", probe.target.ofport),),
                _segment(probe.target, ack, 0, TCP_RST)))
        if probe.seq is None or ack != (probe.seq + 1) & 0xFFFFFFFF:
            return out  # late, or not an answer to the outstanding probe
        if flags & TCP_RST:
            self._failed(probe, now)
            out.failed += 1
        elif flags & TCP_SYN and flags & TCP_ACK:
            probe.seq, probe.failures, probe.verdict = None, 0, True
            out.answered += 1
        return out

    def _failed(self, probe: _Probe, now: float) -> None:
        probe.seq = None
        probe.failures += 1
        t = probe.target
        if probe.failures >= t.max_retries:
            probe.verdict = False
        else:
            # confirm sooner (haproxy's fastinter): max_retries failures then
            # fit in delay x max_retries from the first one's turn
            probe.next_at = min(probe.next_at, now + t.delay / t.max_retries)

    def status_writes(self, topology: Any) -> list[tuple[uuid.UUID, LBStatus]]:
        """The member statuses the NSDB should be given (none already in flight)."""
        wanted: dict[uuid.UUID, LBStatus] = {
            mid: LBStatus.ACTIVE if p.verdict else LBStatus.INACTIVE
            for mid, p in self._probes.items() if p.verdict is not None}
        for mid in self._released:
            wanted.setdefault(mid, LBStatus.ACTIVE)
        writes = []
        for mid, status in wanted.items():
            member = topology.get(PoolMember, mid)
            if member is None:
                self._released.discard(mid)
                continue
            if member.status is status:
                self._released.discard(mid)
            elif mid not in self._writing:
                self._writing.add(mid)
                writes.append((mid, status))
        return writes

    def status_written(self, member_id: uuid.UUID) -> None:
        """A write asked for by :meth:`status_writes` is done (or failed: it is
        asked for again while the NSDB disagrees)."""
        self._writing.discard(member_id)

    def arp_due(self, unresolved: Iterable[tuple[uuid.UUID, int, float]],
                now: float) -> list[tuple[uuid.UUID, int]]:
        """The (router port, member ip) pairs to ARP for now: each once a delay."""
        due = []
        wanted = set()
        for port_id, ip, delay in unresolved:
            key = (port_id, ip)
            wanted.add(key)
            if now - self._asked.get(key, -1e18) >= delay:
                self._asked[key] = now
                due.append(key)
        for key in [k for k in self._asked if k not in wanted]:
            del self._asked[key]
        return due

    def status(self) -> list[dict[str, Any]]:
        """For the agent's status command."""
        return [{"member": str(mid), "port": str(p.target.port_id),
                 "verdict": None if p.verdict is None else ("up" if p.verdict else "down"),
                 "failures": p.failures} for mid, p in sorted(self._probes.items())]


def _same_place(a: ProbeTarget, b: ProbeTarget) -> bool:
    return dataclasses.replace(a, delay=b.delay, timeout=b.timeout,
                               max_retries=b.max_retries) == b


def _answer_key(t: ProbeTarget) -> tuple[int, int, int]:
    return t.ofport, t.member_ip, t.member_port


def _segment(t: ProbeTarget, seq: int, ack: int, flags: int) -> bytes:
    tcp = tcp_segment(t.source_ip, t.member_ip, PROBE_PORT, t.member_port, seq, ack, flags)
    return ethernet(t.member_mac, t.source_mac, 0x0800, ipv4(t.source_ip, t.member_ip, 6, tcp))


def _parse_answer(frame: bytes) -> tuple[int, int, int, int, int] | None:
    """(source ip, source port, seq, ack, flags) of an untagged IPv4 TCP frame."""
    if len(frame) < _MIN_ANSWER or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    l4 = 14 + ihl
    if ihl < 20 or len(frame) < l4 + 20:
        return None
    src = int.from_bytes(frame[26:30], "big")
    sport, _dport, seq, ack, _off, flags = struct.unpack_from("!HHIIBB", frame, l4)
    return src, sport, seq, ack, flags


def arp_frame(router_port: Port, target_ip: int) -> bytes | None:
    """The router port's "who has ``target_ip``" (None for an unaddressed port)."""
    if router_port.port_mac is None or router_port.port_address is None:
        return None
    return arp_request(router_port.port_mac, ip_to_int(router_port.port_address), target_ip)
