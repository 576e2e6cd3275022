"""Packet traces ("what if"): run a described packet through the real engine, step by step.

The REST API's ``POST /midonet-api/traces/simulate`` is built on this module:

* :meth:`PacketDescription.from_json` validates the request (raising
  :class:`TraceRequestError`, which names the offending field) and builds
  the frame with the same builders the tests use, so the ``FlowMatch`` the
  engine sees is exactly what a packet-in of that frame would give;
* :func:`trace_packet` runs :func:`engine.simulate` with its trace hooks on
  (``Context.trace``) and turns the raw ``(kind, detail)`` records into
  :class:`TraceStep` values: JSON-able details, the device each step
  happened in, a human sentence;
* :func:`render` and :func:`to_json` present a :class:`Trace` in one of
  three modes: ``detailed`` (every step, for people debugging a topology),
  ``summary`` (a line per device) and ``minimal`` (short strings naming
  objects by name rather than UUID, stable enough for golden tests).

Pure: no I/O, no clock. The state view decides what the trace knows of MAC
tables, ARP tables and flow state (see ``nsdb.trace_state`` for the
cluster's); the trace writes nothing back, so tracing never teaches a MAC,
creates a conntrack entry or leases a SNAT block.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import re
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from midonet_ryu.simulation import packet_builders as pb
from midonet_ryu.simulation.addr import BROADCAST_MAC, int_to_ip, ip_to_int, mac_to_bytes
from midonet_ryu.simulation.context import TraceLog
from midonet_ryu.simulation.engine import simulate
from midonet_ryu.simulation.packet import (
    ARP_REPLY,
    ARP_REQUEST,
    ETH_ARP,
    ETH_IPV4,
    ETH_QINQ,
    ETH_VLAN,
    MATCH_FIELDS,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    FlowMatch,
    MalformedPacket,
    parse_frame,
)
from midonet_ryu.simulation.result import ResultKind, SetField, SimulationResult, ToPort
from midonet_ryu.simulation.state import ConntrackKey, StateView
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import Chain, IPAddrGroup, PortGroup, Rule
from midonet_ryu.topology.snapshot import TopologyView

__all__ = [
    "DEFAULT_SRC_MAC", "MODES", "PacketDescription", "Trace", "TraceRequestError", "TraceStep",
    "render", "to_json", "trace_match", "trace_packet",
]

DEFAULT_SRC_MAC = "02:00:00:00:00:01"
DEFAULT_SRC_PORT = 49152  # the first IANA ephemeral port
DEFAULT_DST_PORT = 80
DEFAULT_TTL = 64
MODES = ("detailed", "summary", "minimal")

_FIELDS = ("port", "srcMac", "dstMac", "ethertype", "vlan", "srcIp", "dstIp", "proto",
           "srcPort", "dstPort", "icmpType", "icmpCode", "ttl")
_PROTOS = {"tcp": PROTO_TCP, "udp": PROTO_UDP, "icmp": PROTO_ICMP}
_PROTO_NAMES = {v: k for k, v in _PROTOS.items()}
_ETHERTYPES = {"ipv4": ETH_IPV4, "arp": ETH_ARP}
_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_IP_FIELDS = frozenset(("ip_src", "ip_dst", "arp_spa", "arp_tpa"))
_ICMP_ECHO = (0, 8)


class TraceRequestError(ValueError):
    """A trace request is invalid; ``field`` names the JSON field at fault (the API
    returns it to the caller next to ``message``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- the request ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PacketDescription:
    """A packet to trace, entering the topology at exterior port ``port``.

    JSON fields (camelCase; only ``port`` is required) and their defaults:

    * ``port``: UUID of the ingress port.
    * ``srcMac``: ``02:00:00:00:00:01`` (a locally administered address, so a
      trace that forgets it cannot collide with a real NIC). Must be unicast.
    * ``dstMac``: broadcast for ARP; required otherwise: a routed packet is
      addressed to the router port's MAC, which only the caller knows it
      means (no guessing of a gateway from addresses).
    * ``ethertype``: ``"ipv4"`` (default), ``"arp"`` (a request for ``dstIp``
      from ``srcIp``), or an int for an L2-only frame of another type.
    * ``vlan``: untagged by default; else 1..4094 (an 802.1Q tag).
    * ``srcIp``/``dstIp``: dotted quads; both required for IPv4. For ARP,
      ``dstIp`` (the address asked for) is required and ``srcIp`` defaults to
      ``0.0.0.0`` (an ARP probe).
    * ``proto``: ``"tcp"`` (default), ``"udp"``, ``"icmp"`` or 0..255.
    * ``srcPort``/``dstPort``: TCP/UDP only, 0..65535; default 49152 and 80.
      A TCP packet is a SYN: the first packet of a connection, which is the
      one simulated (later packets ride its flow).
    * ``icmpType``/``icmpCode``: ICMP only; default 8/0 (echo request, id 1).
    * ``ttl``: 0..255, default 64.

    Fields that do not apply (``srcPort`` with ICMP, ``ttl`` with ARP...)
    are errors rather than silently ignored, so a caller never believes it
    traced something it did not.
    """

    port: uuid.UUID
    src_mac: str = DEFAULT_SRC_MAC
    dst_mac: str = BROADCAST_MAC
    ethertype: int = ETH_IPV4
    vlan: int | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    proto: int | None = None
    src_port: int | None = None
    dst_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    ttl: int | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PacketDescription:
        """Validate a request body; raises :class:`TraceRequestError`."""
        if not isinstance(d, Mapping):
            raise TraceRequestError("request", "must be a JSON object")
        unknown = sorted(str(k) for k in d if k not in _FIELDS)
        if unknown:
            raise TraceRequestError(", ".join(unknown), "unknown field"
                                    + ("s" if len(unknown) > 1 else ""))
        if d.get("port") is None:
            raise TraceRequestError("port", "required: the UUID of the ingress port")
        port = _uuid(d, "port")
        ethertype = _ethertype(d)
        src_mac = _mac(d, "srcMac", DEFAULT_SRC_MAC)
        if int(src_mac[1], 16) & 1:
            raise TraceRequestError("srcMac", f"{src_mac} is a multicast address")
        vlan = _int(d, "vlan", None, 1, 4094)
        if ethertype == ETH_ARP:
            _not_for(d, ("proto", "srcPort", "dstPort", "icmpType", "icmpCode", "ttl"), "ARP")
            dst_ip = _ip(d, "dstIp", None)
            if dst_ip is None:
                raise TraceRequestError("dstIp", "required: the address the ARP asks for")
            return cls(port, src_mac, _mac(d, "dstMac", BROADCAST_MAC), ethertype, vlan,
                       _ip(d, "srcIp", "0.0.0.0"), dst_ip)
        if "dstMac" not in d or d["dstMac"] is None:
            raise TraceRequestError("dstMac", "required unless ethertype is arp (a routed "
                                    "packet goes to the router port's MAC)")
        dst_mac = _mac(d, "dstMac", None)
        if ethertype != ETH_IPV4:
            _not_for(d, ("srcIp", "dstIp", "proto", "srcPort", "dstPort", "icmpType",
                         "icmpCode", "ttl"), f"ethertype {ethertype:#06x}")
            return cls(port, src_mac, dst_mac, ethertype, vlan)
        src_ip, dst_ip = _ip(d, "srcIp", None), _ip(d, "dstIp", None)
        for name, value in (("srcIp", src_ip), ("dstIp", dst_ip)):
            if value is None:
                raise TraceRequestError(name, "required for an IPv4 packet")
        proto = _proto(d)
        ttl = _int(d, "ttl", DEFAULT_TTL, 0, 255)
        if proto in (PROTO_TCP, PROTO_UDP):
            _not_for(d, ("icmpType", "icmpCode"), _PROTO_NAMES[proto])
            return cls(port, src_mac, dst_mac, ethertype, vlan, src_ip, dst_ip, proto,
                       _int(d, "srcPort", DEFAULT_SRC_PORT, 0, 65535),
                       _int(d, "dstPort", DEFAULT_DST_PORT, 0, 65535), ttl=ttl)
        _not_for(d, ("srcPort", "dstPort"), f"protocol {proto}")
        if proto == PROTO_ICMP:
            return cls(port, src_mac, dst_mac, ethertype, vlan, src_ip, dst_ip, proto,
                       icmp_type=_int(d, "icmpType", 8, 0, 255),
                       icmp_code=_int(d, "icmpCode", 0, 0, 255), ttl=ttl)
        _not_for(d, ("icmpType", "icmpCode"), f"protocol {proto}")
        return cls(port, src_mac, dst_mac, ethertype, vlan, src_ip, dst_ip, proto, ttl=ttl)

    def to_json(self) -> dict[str, Any]:
        """The request in its JSON form, defaults filled in (what was traced)."""
        out: dict[str, Any] = {"port": str(self.port), "srcMac": self.src_mac,
                               "dstMac": self.dst_mac,
                               "ethertype": {ETH_IPV4: "ipv4", ETH_ARP: "arp"}.get(
                                   self.ethertype, self.ethertype)}
        for key, value in (("vlan", self.vlan), ("srcIp", self.src_ip), ("dstIp", self.dst_ip),
                           ("proto", _PROTO_NAMES.get(self.proto, self.proto)
                            if self.proto is not None else None),
                           ("srcPort", self.src_port), ("dstPort", self.dst_port),
                           ("icmpType", self.icmp_type), ("icmpCode", self.icmp_code),
                           ("ttl", self.ttl)):
            if value is not None:
                out[key] = value
        return out

    def frame(self) -> bytes:
        """The Ethernet frame, built with the engine's own packet builders."""
        src, dst, vlan = self.src_mac, self.dst_mac, self.vlan
        if self.ethertype == ETH_ARP:
            frame = pb.arp_request(src, ip_to_int(self.src_ip or "0.0.0.0"),
                                   ip_to_int(self.dst_ip or "0.0.0.0"), vlan)
            return mac_to_bytes(dst) + frame[6:]  # a unicast request (a refresh) if asked
        if self.ethertype != ETH_IPV4:
            return pb.ethernet(dst, src, self.ethertype, bytes(46), vlan)
        sip, dip = ip_to_int(self.src_ip or "0.0.0.0"), ip_to_int(self.dst_ip or "0.0.0.0")
        ttl = DEFAULT_TTL if self.ttl is None else self.ttl
        proto = PROTO_TCP if self.proto is None else self.proto
        sport = DEFAULT_SRC_PORT if self.src_port is None else self.src_port
        dport = DEFAULT_DST_PORT if self.dst_port is None else self.dst_port
        if proto == PROTO_TCP:
            return pb.tcp_frame(src, dst, sip, dip, sport, dport, ttl, vlan)
        if proto == PROTO_UDP:
            return pb.udp_frame(src, dst, sip, dip, sport, dport, b"", ttl, vlan)
        if proto == PROTO_ICMP:
            itype = 8 if self.icmp_type is None else self.icmp_type
            rest = struct.pack("!HH", 1, 1) if itype in _ICMP_ECHO else bytes(4)
            msg = pb.icmp(itype, self.icmp_code or 0, rest, b"trace")
            return pb.ethernet(dst, src, ETH_IPV4, pb.ipv4(sip, dip, proto, msg, ttl=ttl), vlan)
        return pb.ethernet(dst, src, ETH_IPV4, pb.ipv4(sip, dip, proto, bytes(8), ttl=ttl), vlan)

    def match(self) -> FlowMatch:
        """The match a packet-in of :meth:`frame` on ``port`` gives."""
        return parse_frame(self.frame(), self.port)


def _uuid(d: Mapping[str, Any], name: str) -> uuid.UUID:
    value = d[name]
    if not isinstance(value, str):
        raise TraceRequestError(name, "must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise TraceRequestError(name, f"not a UUID: {value!r}") from None


def _mac(d: Mapping[str, Any], name: str, default: str | None) -> str:
    value = d.get(name)
    if value is None:
        if default is None:
            raise TraceRequestError(name, "required")
        return default
    if not isinstance(value, str) or not _MAC.match(value):
        raise TraceRequestError(name, f"not a MAC address: {value!r}")
    return value.replace("-", ":").lower()


def _ip(d: Mapping[str, Any], name: str, default: str | None) -> str | None:
    value = d.get(name)
    if value is None:
        return default
    try:
        ip_to_int(value)
    except (ValueError, TypeError):
        raise TraceRequestError(name, f"not an IPv4 address: {value!r}") from None
    return str(value)


def _int(d: Mapping[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = d.get(name)
    if value is None:
        return default
    if type(value) is not int:  # bool is an int to Python, not to a caller
        raise TraceRequestError(name, f"must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise TraceRequestError(name, f"{value} is out of range {lo}..{hi}")
    return value


def _named_number(d: Mapping[str, Any], name: str, names: Mapping[str, int], default: int,
                  lo: int, hi: int, spelled: str) -> int:
    """A field given by name (``"tcp"``) or as a number in ``lo..hi``."""
    value = d.get(name)
    if value is None:
        return default
    if isinstance(value, str):
        found = names.get(value.lower())
        if found is None:
            raise TraceRequestError(name, f"{value!r} is not {spelled}")
        return found
    number = _int(d, name, None, lo, hi)
    assert number is not None
    return number


def _ethertype(d: Mapping[str, Any]) -> int:
    number = _named_number(d, "ethertype", _ETHERTYPES, ETH_IPV4, 0x0600, 0xFFFF,
                           "ipv4, arp or a number")
    if number in (ETH_VLAN, ETH_QINQ):
        raise TraceRequestError("ethertype", "a VLAN tag is given with the vlan field")
    return number


def _proto(d: Mapping[str, Any]) -> int:
    return _named_number(d, "proto", _PROTOS, PROTO_TCP, 0, 255, "tcp, udp, icmp or 0..255")


def _not_for(d: Mapping[str, Any], names: Iterable[str], what: str) -> None:
    for name in names:
        if d.get(name) is not None:
            raise TraceRequestError(name, f"does not apply to {what}")


# --- the trace --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TraceStep:
    """One decision of the engine.

    ``device_*`` is the bridge or router the packet was in (None before it
    entered one); ``port_id`` the port the step is about (the ingress port
    of an ``ingress`` step, the port a MAC was found on, a filtered or
    egress port), else the port the packet entered the device by.
    ``detail`` holds JSON values only (UUIDs and addresses as strings).
    """

    kind: str
    device_id: uuid.UUID | None
    device_type: str | None
    device_name: str | None
    port_id: uuid.UUID | None
    detail: Mapping[str, Any] = dataclasses.field(hash=False)
    text: str = ""


@dataclasses.dataclass(frozen=True)
class Trace:
    """A traced simulation: its steps and what would happen to the packet.

    ``result`` is "forward", "drop", "consumed" or "error". ``match`` is the
    flow that would be installed (JSON values of the fields the simulation
    read, camelCase keys), None when no flow would be (consumed packets,
    drops that must be simulated again); ``actions`` its actions.
    ``names`` maps the id (str) of every object the steps mention to its
    name, or for a rule to ``<chain name>#<position>``.
    """

    steps: tuple[TraceStep, ...]
    result: str
    reason: str
    egress_ports: tuple[uuid.UUID, ...]
    match: Mapping[str, Any] | None
    actions: tuple[Mapping[str, Any], ...]
    names: Mapping[str, str]
    packet: PacketDescription | None = None


_RESULTS = {ResultKind.FORWARD: "forward", ResultKind.DROP: "drop",
            ResultKind.ERROR_DROP: "error", ResultKind.CONSUMED: "consumed"}
_NAMED: tuple[type[Any], ...] = (Port, Network, Router, Chain, PortGroup, IPAddrGroup)


def trace_packet(desc: PacketDescription, topology: TopologyView, state: StateView,
                 now: float) -> Trace:
    """Trace ``desc`` through ``topology`` at time ``now`` with ``state``."""
    return dataclasses.replace(trace_match(desc.match(), topology, state, now), packet=desc)


def trace_match(match: FlowMatch, topology: TopologyView, state: StateView,
                now: float) -> Trace:
    """Trace an already parsed packet (``match.in_port`` is the ingress port)."""
    log: TraceLog = []
    result = simulate(match, topology, state, now, trace=log)
    names = _names(log, topology)
    raw = list(log) + [_generated(g.port_id, g.frame) for g in result.generated]
    raw.append(_final(result))
    steps = []
    device: uuid.UUID | None = None
    device_type: str | None = None
    in_port: uuid.UUID | None = None
    for kind, rec in raw:
        if kind == "ingress":
            device, device_type, in_port = rec["device"], rec["deviceType"], rec["port"]
        detail = _detail(kind, rec, topology)
        port = rec.get("port")
        port_id = port if isinstance(port, uuid.UUID) else in_port
        step = TraceStep(kind, device, device_type,
                         names.get(str(device)) if device else None, port_id, detail)
        steps.append(dataclasses.replace(step, text=_text(step, _labeller(names, True))))
    return Trace(tuple(steps), _RESULTS[result.kind], result.reason, result.egress_port_ids,
                 _flow_match(match, result), _actions(result), names)


def _names(log: TraceLog, topology: TopologyView) -> dict[str, str]:
    """Names of every object the records mention, looked up once, at trace time."""
    ids: set[uuid.UUID] = set()
    for _kind, rec in log:
        for value in rec.values():
            if isinstance(value, uuid.UUID):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(v for v in value if isinstance(v, uuid.UUID))
    names: dict[str, str] = {}
    for oid in ids:
        for cls in _NAMED:
            obj = topology.get(cls, oid)
            if obj is not None:
                if obj.name:
                    names[str(oid)] = obj.name
                break
        else:
            rule = topology.get(Rule, oid)
            chain = topology.get(Chain, rule.chain_id) if rule is not None else None
            if chain is not None and oid in chain.rule_ids:
                names[str(oid)] = f"{chain.name or chain.id}#{chain.rule_ids.index(oid) + 1}"
    return names


def _generated(port_id: uuid.UUID, frame: bytes) -> tuple[str, dict[str, Any]]:
    """A frame the engine emitted (ARP reply, ICMP error...), as a step."""
    rec: dict[str, Any] = {"port": port_id, "bytes": len(frame)}
    try:
        m = parse_frame(frame, None)
    except MalformedPacket:
        rec["frame"] = "unparsable"
        return "generated", rec
    if m.eth_type == ETH_ARP:
        rec.update(frame={ARP_REQUEST: "arp-request", ARP_REPLY: "arp-reply"}.get(
            m.arp_op or 0, "arp"), senderIp=m.arp_spa, senderMac=m.arp_sha, targetIp=m.arp_tpa)
    elif m.ip_proto == PROTO_ICMP:
        rec.update(frame="icmp", icmpType=m.icmp_type, icmpCode=m.icmp_code, srcIp=m.ip_src,
                   dstIp=m.ip_dst)
    elif m.ip_proto == PROTO_UDP and m.tp_src == 67:
        rec.update(frame="dhcp", dstIp=m.ip_dst)
    else:
        rec.update(frame="ethernet", ethType=m.eth_type)
    return "generated", rec


def _final(result: SimulationResult) -> tuple[str, dict[str, Any]]:
    kind = _RESULTS[result.kind]
    if kind == "forward":
        return kind, {"ports": list(result.egress_port_ids)}
    rec: dict[str, Any] = {"reason": result.reason}
    if kind != "consumed":
        rec["flowSeconds"] = result.drop_timeout
    return kind, rec


def _json(key: str, value: Any) -> Any:
    """A raw engine value as JSON: addresses (int, under ``*Ip`` keys) dotted."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return int_to_ip(value) if key.endswith("Ip") else value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, ConntrackKey):
        return {"device": str(value.device_id), "srcIp": int_to_ip(value.ip_src),
                "srcPort": value.tp_src, "dstIp": int_to_ip(value.ip_dst),
                "dstPort": value.tp_dst, "proto": value.proto}
    if isinstance(value, (list, tuple)):
        return [_json(key, v) for v in value]
    return str(value)


def _detail(kind: str, rec: Mapping[str, Any], topology: TopologyView) -> dict[str, Any]:
    detail = {k: _json(k, v) for k, v in rec.items()}
    if kind == "route" and "prefixIp" in detail:
        detail["prefix"] = f"{detail.pop('prefixIp')}/{detail.pop('prefixLen')}"
    elif kind == "chain" and "verdict" in detail:
        # A filter that runs out of rules (RETURN) lets the packet go on.
        detail["verdict"] = {"return": "accept", "continue": "accept"}.get(
            detail["verdict"], detail["verdict"])
    elif kind == "rule" and rec.get("rule") is not None:
        chain = topology.get(Chain, rec["chain"])
        if chain is not None and rec["rule"] in chain.rule_ids:
            detail["position"] = chain.rule_ids.index(rec["rule"]) + 1
    return detail


def _flow_match(match: FlowMatch, result: SimulationResult) -> dict[str, Any] | None:
    if result.kind is ResultKind.CONSUMED or (result.kind is not ResultKind.FORWARD
                                              and result.drop_timeout == 0):
        return None
    return {_camel(f): _field_json(f, getattr(match, f)) for f in MATCH_FIELDS
            if f in result.wildcard}


def _actions(result: SimulationResult) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    for a in result.actions:
        if type(a) is SetField:
            out.append({"type": "set", "field": _camel(a.name),
                        "value": _field_json(a.name, a.value)})
        elif type(a) is ToPort:
            out.append({"type": "output", "port": str(a.port_id)})
    return tuple(out)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _field_json(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _IP_FIELDS:
        return int_to_ip(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# --- presentation -----------------------------------------------------------

Label = Callable[[Any], str]


def _labeller(names: Mapping[str, str], quote: bool) -> Label:
    """Name objects by name when they have one (quoted in sentences), else by id."""

    def label(oid: Any) -> str:
        if oid is None:
            return "?"
        name = names.get(str(oid))
        if name is None:
            return str(oid)
        return f"'{name}'" if quote else name

    return label


def _ip_port(ip: Any, port: Any) -> str:
    return f"{ip}:{port}" if port is not None else str(ip)


Detail = Mapping[str, Any]


def _t_ingress(d: Detail, label: Label) -> str:
    return f"ingress {d.get('deviceType') or 'device'} {label(d['device'])} " \
           f"port {label(d['port'])}"


def _t_chain(d: Detail, label: Label) -> str:
    where = f" {label(d['port'])}" if d.get("port") else ""
    return f"chain {d['hook'] or 'filter'}{where} {label(d['chain'])}: " \
           f"{d.get('verdict', 'error')}"


def _t_rule(d: Detail, label: Label) -> str:
    if d.get("rule") is None:
        return f"rule {label(d['chain'])}: " + (
            "missing chain" if d.get("missing") else "no match")
    kind = " (nat)" if d.get("type") == "nat" else ""  # a jump says so in its action
    return f"rule {label(d['rule'])} {d['action']}{kind}"


def _t_mac_lookup(d: Detail, label: Label) -> str:
    target = f" {label(d['port'])}" if d.get("port") and d["result"] != "miss" else ""
    return f"mac-lookup {d['mac']} {d['result']}{target}"


def _t_arp_suppress(d: Detail, label: Label) -> str:
    if d["result"] == "answered":
        return f"arp-suppress {d['targetIp']} answered {d['mac']}"
    target = f" {label(d['port'])}" if d.get("port") else ""
    return f"arp-suppress {d['targetIp']} {d['result']}{target}"


def _t_route(d: Detail, label: Label) -> str:
    if d["result"] == "none":
        return f"route {d['dstIp']} none"
    if d["result"] != "port":
        return f"route {d['dstIp']} {d['result']} ({d['prefix']})"
    via = f" gw {d['gatewayIp']}" if d.get("gatewayIp") else ""
    return f"route {d['dstIp']} via {d['prefix']}{via} -> {label(d['port'])}"


def _t_nat(d: Detail, label: Label) -> str:
    name = f"{d['mode']}-{d['type']}" if d["mode"] != "dynamic" else d["type"]
    if d["result"] != "translated":
        return f"nat {name} {d['result']}"
    return f"nat {name} {_ip_port(d['fromIp'], d.get('fromPort'))} -> " \
           f"{_ip_port(d['toIp'], d.get('toPort'))}"


def _t_lb(d: Detail, label: Label) -> str:
    result = d["result"]
    if result == "balanced":
        return f"lb vip {_ip_port(d['vipIp'], d['vipPort'])} -> " \
               f"{_ip_port(d['memberIp'], d['memberPort'])}"
    if result == "reverse":
        return f"lb reverse {_ip_port(d['memberIp'], d['memberPort'])} -> " \
               f"{_ip_port(d['vipIp'], d['vipPort'])}"
    if result == "no-member":
        return f"lb vip {_ip_port(d['vipIp'], d['vipPort'])} no-member"
    return f"lb {result}"


def _t_end(kind: str) -> Callable[[Detail, Label], str]:
    def terse(d: Detail, label: Label) -> str:
        reason = _UUID_TEXT.sub(lambda m: label(m.group(0)), d.get("reason", ""))
        return f"{kind}: {reason}"

    return terse


_TERSE: dict[str, Callable[[Detail, Label], str]] = {
    "ingress": _t_ingress,
    "chain": _t_chain,
    "rule": _t_rule,
    "mac-learn": lambda d, label: f"mac-learn {d['mac']} on {label(d['port'])}",
    "mac-lookup": _t_mac_lookup,
    "arp-suppress": _t_arp_suppress,
    "route": _t_route,
    "next-hop": lambda d, label: f"next-hop {d['nextHopIp']} {d['mac'] or 'unknown'} "
                                 f"({d['result']})",
    "local": lambda d, label: f"local {d['dstIp']} port {label(d['port'])}",
    "nat": _t_nat,
    "conntrack": lambda d, label: f"conntrack {d['result']}" + (
        " (untracked)" if d.get("untracked") else ""),
    "lb": _t_lb,
    "egress": lambda d, label: f"egress {label(d['port'])}" + (
        f" -> {label(d['peer'])}" if d.get("peer") else ""),
    "flood": lambda d, label: "flood " + (", ".join(label(p) for p in d["ports"])
                                          or "(no port)"),
    "generated": lambda d, label: f"generated {d.get('frame')} on {label(d['port'])}",
    "forward": lambda d, label: "forward " + ", ".join(label(p) for p in d["ports"]),
    "drop": _t_end("drop"),
    "consumed": _t_end("consumed"),
    "error": _t_end("error"),
}


def _terse(step: TraceStep, label: Label) -> str:
    """The step as a short line: ``<kind> <what>``, objects named by ``label``."""
    fmt = _TERSE.get(step.kind)
    if fmt is None:  # a hook this module does not know yet: still show it
        return f"{step.kind} " + json.dumps(dict(step.detail), sort_keys=True)
    return fmt(step.detail, label)


_HOOKS = {"port-inbound": "the inbound filter of port", "port-outbound":
          "the outbound filter of port", "device-inbound": "the inbound filter",
          "device-outbound": "the outbound filter"}


def _text(step: TraceStep, label: Label) -> str:
    """A sentence for people: the terse form, with the few kinds that read badly
    tersely spelled out."""
    d, k = step.detail, step.kind
    if k == "ingress":
        return f"enters {d.get('deviceType') or 'device'} {label(d['device'])} " \
               f"by port {label(d['port'])}"
    if k == "chain":
        where = f" {label(d['port'])}" if d.get("port") else ""
        return f"runs {_HOOKS.get(d['hook'], 'filter')}{where}: chain {label(d['chain'])}, " \
               f"verdict {d.get('verdict', 'none (error)')}"
    if k == "rule":
        if d.get("rule") is None:
            return f"no rule of chain {label(d['chain'])} matches" if not d.get("missing") \
                else f"chain {label(d['chain'])} does not exist: nothing filtered"
        return f"rule {d.get('position', '?')} of chain {label(d['chain'])} " \
               f"({d['rule']}) matches: {d['action']}"
    if k == "mac-lookup":
        return {
            "hit": f"MAC {d['mac']} is on port {label(d.get('port'))}",
            "router-port": f"MAC {d['mac']} is the router port behind {label(d.get('port'))}",
            "miss": f"MAC {d['mac']} is not in the MAC table: flood",
            "stale": f"MAC {d['mac']} maps to unusable port {label(d.get('port'))}: flood",
            "hairpin": f"MAC {d['mac']} is on the ingress port",
        }.get(d["result"], f"MAC {d['mac']} is {d['result']}: flood")
    if k == "egress":
        if d.get("peer"):
            return f"leaves by port {label(d['port'])}, linked to {label(d['peer'])}"
        return f"leaves by {'exterior ' if d.get('exterior') else ''}port {label(d['port'])}"
    if k == "flood":
        return f"floods to {len(d['ports'])} of {d['candidates']} ports: " + (
            ", ".join(label(p) for p in d["ports"]) or "none")
    if k == "next-hop":
        return f"next hop {d['nextHopIp']} is at " + (
            f"{d['mac']} ({d['result']})" if d["mac"] else f"an unknown MAC ({d['result']})")
    if k == "forward":
        return "forwarded to " + ", ".join(label(p) for p in d["ports"])
    return _terse(step, label)


def render(trace: Trace, mode: str, names: Mapping[Any, str] | None = None) -> Any:
    """Present ``trace``: ``detailed`` and ``summary`` give a dict, ``minimal`` a list.

    ``names`` (id -> name) adds to or overrides the names found at trace
    time, e.g. names the API knows but the topology view does not hold.
    """
    merged = dict(trace.names)
    if names:
        merged.update({str(k): v for k, v in names.items()})
    if mode == "minimal":
        label = _labeller(merged, False)
        return [_terse(s, label) for s in trace.steps]
    if mode == "summary":
        return {"lines": _summary(trace, _labeller(merged, False))}
    if mode == "detailed":
        text_label = _labeller(merged, True)
        return {"steps": [_step_json(s, merged, text_label) for s in trace.steps],
                "match": trace.match, "actions": list(trace.actions)}
    raise ValueError(f"unknown trace mode {mode!r}: one of {', '.join(MODES)}")


_SUMMARY_SKIP = frozenset(("ingress", "rule", "mac-learn", "conntrack", "next-hop"))


def _summary(trace: Trace, label: Label) -> list[str]:
    """One line per device visit (its notable decisions), then the outcome."""
    lines: list[str] = []
    parts: list[str] = []
    head = ""
    for step in trace.steps:
        if step.kind == "ingress" or step is trace.steps[-1]:
            if head:
                lines.append(head + "; ".join(parts))
            parts = []
            if step.kind == "ingress":
                head = f"{step.device_type or 'device'} {label(step.device_id)} " \
                       f"(in {label(step.port_id)}): "
            else:
                lines.append(_terse(step, label))
            continue
        if step.kind not in _SUMMARY_SKIP:
            parts.append(_terse(step, label))
    return lines


def _step_json(step: TraceStep, names: Mapping[str, str], label: Label) -> dict[str, Any]:
    return {
        "kind": step.kind,
        "deviceId": str(step.device_id) if step.device_id else None,
        "deviceType": step.device_type,
        "deviceName": names.get(str(step.device_id)) if step.device_id else None,
        "portId": str(step.port_id) if step.port_id else None,
        "portName": names.get(str(step.port_id)) if step.port_id else None,
        "detail": dict(step.detail),
        "text": _text(step, label),  # again: ``names`` may rename what the trace named
    }


def to_json(trace: Trace, mode: str = "detailed",
            names: Mapping[Any, str] | None = None) -> dict[str, Any]:
    """The API's response body: ``{"mode", "result", "reason", "steps" (detailed) or
    "lines" (summary, minimal), "egressPorts", "match", "actions"}``."""
    rendered = render(trace, mode, names)
    out: dict[str, Any] = {"mode": mode, "result": trace.result, "reason": trace.reason}
    if mode == "detailed":
        out["steps"] = rendered["steps"]
    elif mode == "summary":
        out["lines"] = rendered["lines"]
    else:
        out["lines"] = rendered
    out["egressPorts"] = [str(p) for p in trace.egress_ports]
    out["match"] = None if trace.match is None else dict(trace.match)
    out["actions"] = [dict(a) for a in trace.actions]
    return out
