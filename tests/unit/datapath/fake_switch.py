"""A small OpenFlow 1.3 switch model for unit tests of the agent's decisions.

After FAUCET's ``FakeOFTable``: the messages the decision core emits are
applied to it (each checked against the declared pipeline first), and tests
ask it where a packet goes now, without root, OVS or a process. It models
what the agent relies on: per-table priority lookup, goto-table, apply
actions (set_field of tunnel metadata and headers, output), drop (no
instruction), OFPFC_ADD replacing an identical match and priority, and
deletes by cookie/mask, by match (non-strict: every flow whose match
includes it) and strict (exact match and priority).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.translate import build_match
from midonet_ryu.simulation.packet import parse_frame

ALL_FIELDS = frozenset({"eth_src", "eth_dst", "eth_type", "vlan_id", "ip_src", "ip_dst",
                        "ip_proto", "ip_tos", "ip_ttl", "ip_frag", "tp_src", "tp_dst",
                        "icmp_type", "icmp_code", "arp_op", "arp_spa", "arp_tpa",
                        "arp_sha", "arp_tha"})


@dataclasses.dataclass
class Flow:
    message: of.FlowMod

    @property
    def match(self) -> dict[str, Any]:
        return dict(self.message.match)


@dataclasses.dataclass(frozen=True)
class Output:
    port: int
    tunnel_id: int | None = None
    tun_dst: int | None = None
    rewrites: tuple[tuple[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Where a packet goes: to the controller, dropped, or out of ports."""

    controller: bool = False
    outputs: tuple[Output, ...] = ()
    flow: of.FlowMod | None = None  # the table-1 flow that decided, if any

    @property
    def dropped(self) -> bool:
        return not self.controller and not self.outputs

    def ports(self) -> list[int]:
        return [o.port for o in self.outputs]


def _matches(flow_match: dict[str, Any], packet: dict[str, Any]) -> bool:
    for name, value in flow_match.items():
        have = packet.get(name)
        if name == "ip_frag":
            want, mask = value
            if have is None or have[0] & mask != want:
                return False
        elif have != value:
            return False
    return True


class FakeSwitch:
    def __init__(self) -> None:
        self.tables: dict[int, list[Flow]] = {t: [] for t in pl.TABLES}
        self.packet_outs: list[of.PacketOut] = []
        self.config: of.SetConfig | None = None
        self.stats_requests: list[of.FlowStatsRequest] = []

    # -- applying messages ---------------------------------------------------------------------
    def apply(self, messages: Iterable[of.Message]) -> None:
        messages = list(messages)
        pl.verify_all(messages)
        for message in messages:
            of.encode(message, 0)  # what the shell would send must encode
        # the shell's send path puts deletes first; model the same order
        ordered = [m for m in messages if type(m) is of.FlowDelete] + [
            m for m in messages if type(m) is not of.FlowDelete]
        for message in ordered:
            kind = type(message)
            if kind is of.FlowMod:
                self._add(message)
            elif kind is of.FlowDelete:
                self._delete(message)
            elif kind is of.PacketOut:
                self.packet_outs.append(message)
            elif kind is of.SetConfig:
                self.config = message
            elif kind is of.FlowStatsRequest:
                self.stats_requests.append(message)
            else:
                raise TypeError(message)

    def _add(self, m: of.FlowMod) -> None:
        table = self.tables[m.table_id]
        match = dict(m.match)
        table[:] = [f for f in table
                    if not (f.message.priority == m.priority and f.match == match)]
        table.append(Flow(m))

    def _delete(self, d: of.FlowDelete) -> None:
        table = self.tables[d.table_id]
        want = dict(d.match)

        def doomed(f: Flow) -> bool:
            if (f.message.cookie & d.cookie_mask) != (d.cookie & d.cookie_mask):
                return False
            if d.strict_priority is not None:
                return f.message.priority == d.strict_priority and f.match == want
            return all(f.match.get(k) == v for k, v in want.items())

        table[:] = [f for f in table if not doomed(f)]

    def take_packet_outs(self) -> list[of.PacketOut]:
        out, self.packet_outs = self.packet_outs, []
        return out

    # -- queries -------------------------------------------------------------------------------
    def flows(self, table_id: int = pl.TABLE_SIMULATED) -> list[of.FlowMod]:
        return [f.message for f in self.tables[table_id]]

    def simulated_flows(self) -> list[of.FlowMod]:
        return [m for m in self.flows() if m.priority != pl.PRIO_MISS]

    def lookup(self, packet: dict[str, Any]) -> Verdict:
        table_id: int | None = pl.TABLE_CLASSIFY
        decided: of.FlowMod | None = None
        while table_id is not None:
            candidates = [f for f in self.tables[table_id] if _matches(f.match, packet)]
            if not candidates:
                return Verdict()  # no table-miss flow: OpenFlow 1.3 drops
            best = max(candidates, key=lambda f: f.message.priority).message
            if table_id == pl.TABLE_SIMULATED:
                decided = best
            outputs, controller = self._run(best.actions or (), packet)
            if controller or outputs or best.goto is None:
                return Verdict(controller, tuple(outputs), decided)
            table_id = best.goto
        return Verdict()

    @staticmethod
    def _run(actions: Iterable[tuple], packet: dict[str, Any]) -> tuple[list[Output], bool]:
        outputs: list[Output] = []
        fields: dict[str, Any] = {}
        for action in actions:
            if action[0] == "set_field":
                fields[action[1]] = action[2]
            elif action[0] == "output":
                if action[1] == of.OFPP_CONTROLLER:
                    return outputs, True
                port = packet["in_port"] if action[1] == of.OFPP_IN_PORT else action[1]
                rewrites = tuple(sorted((k, v) for k, v in fields.items()
                                        if k not in ("tunnel_id", "tun_ipv4_dst")))
                outputs.append(Output(port, fields.get("tunnel_id"), fields.get("tun_ipv4_dst"),
                                      rewrites))
        return outputs, False


def packet_fields(frame: bytes, in_ofport: int, tunnel_id: int | None = None) -> dict[str, Any]:
    """The OXM fields of ``frame`` arriving on ``in_ofport``, as a switch sees them."""
    import uuid

    match = parse_frame(frame, uuid.UUID(int=0))
    fields = dict(build_match(match, ALL_FIELDS, in_ofport))
    if "ip_frag" in fields:
        fields["ip_frag"] = (fields["ip_frag"][0], 3)
    if tunnel_id is not None:
        fields["tunnel_id"] = tunnel_id
    return fields
