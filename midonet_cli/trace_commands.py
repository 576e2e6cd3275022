"""``trace simulate`` and ``trace flows``: the API's packet tracing.

``trace simulate`` asks the cluster to simulate one packet entering a port
(``POST <base>/traces/simulate``) and prints what the simulation did: a
table of its steps (detailed mode) or lines (summary and minimal modes),
then the result, the egress ports, the packet's match and the actions. With
``-f json`` or ``-f yaml`` the answer is printed whole, as the API gave it,
so scripts see every field.

``trace flows TRACE`` lists the simulations agents recorded for a trace
request (``GET <base>/traces/{id}/flows``). The trace requests themselves
(``trace create/list/show/set/delete``) are the generic commands of the
``traces`` collection (:mod:`resource_commands`).
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cliff.formatters.base import SingleFormatter
from cliff.lister import Lister

from midonet_cli import display
from midonet_cli.client import CliError
from midonet_cli.options import ip_address
from midonet_cli.resource_commands import LocalCommand, client_of, resolve, strict
from midonet_ryu.api.resources import BY_COLLECTION

PORTS = BY_COLLECTION["ports"]
TRACES = BY_COLLECTION["traces"]

MODES = ("detailed", "summary", "minimal")
PROTOCOLS = ("tcp", "udp", "icmp")
ETHERTYPES = ("ipv4", "arp")
WHOLE_ANSWER_FORMATS = ("json", "yaml")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def _mac(text: str) -> str:
    if not _MAC.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return text.lower()


def _bounded(low: int, high: int) -> Any:
    def convert(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value
    return convert


def _proto(text: str) -> str | int:
    """A protocol name as it is (the API knows them), a number as a number."""
    if text.lower() in PROTOCOLS:
        return text.lower()
    result: int = _bounded(0, 255)(text)
    return result


# option dest -> JSON field of the simulate body, in the contract's order
SIMULATE_FIELDS = (
    ("port", "port"), ("src_mac", "srcMac"), ("dst_mac", "dstMac"), ("src_ip", "srcIp"),
    ("dst_ip", "dstIp"), ("proto", "proto"), ("src_port", "srcPort"), ("dst_port", "dstPort"),
    ("vlan", "vlan"), ("ethertype", "ethertype"), ("mode", "mode"),
)


def simulate_body(args: argparse.Namespace) -> dict[str, Any]:
    """The ``POST traces/simulate`` body: the options given, camelCased."""
    return {name: getattr(args, dest) for dest, name in SIMULATE_FIELDS
            if getattr(args, dest, None) is not None}


def _named(step: Mapping[str, Any], what: str) -> Any:
    """A step's device or port: by name when the API gives one (``deviceName``),
    else its id (``deviceId``), else a plain ``device``."""
    for key in (f"{what}Name", f"{what}Id", what):
        if step.get(key):
            return step[key]
    return None


def step_rows(answer: Mapping[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The steps of a detailed answer, or the lines of a summary one, as rows."""
    steps = answer.get("steps")
    if isinstance(steps, list):
        return ["#", "kind", "device", "port", "text"], [
            (i, *(display.cell(v) for v in (s.get("kind"), _named(s, "device"),
                                             _named(s, "port"), s.get("text"))))
            for i, s in enumerate(steps, 1) if isinstance(s, Mapping)]
    lines = answer.get("lines") or []
    return ["#", "line"], [(i, line) for i, line in enumerate(lines, 1)]


def footer(answer: Mapping[str, Any]) -> list[str]:
    """The outcome under the table: result and reason, egress, match, actions."""
    out = []
    result = display.human(answer.get("result")) or "(none)"
    reason = display.human(answer.get("reason"))
    out.append(f"result: {result}" + (f" ({reason})" if reason else ""))
    for key, label in (("egressPorts", "egress ports"), ("match", "match"),
                       ("actions", "actions")):
        value = answer.get(key)
        if value not in (None, [], {}, ""):
            out.append(f"{label}: {display.human(value)}")
    return out


def trace_text(record: Mapping[str, Any]) -> str:
    """A recorded simulation's lines, or its steps' texts, one per line."""
    lines = record.get("lines")
    if isinstance(lines, list):
        return "\n".join(str(line) for line in lines)
    steps = record.get("steps")
    if isinstance(steps, list):
        return "\n".join(str(s.get("text", s)) if isinstance(s, Mapping) else str(s)
                         for s in steps)
    return ""


def _keys(objs: Iterable[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for o in objs:
        keys += [k for k in o if k not in keys]
    return keys


class TraceSimulate(LocalCommand, Lister):
    """Simulate a packet entering a port and show what the virtual network does
    with it: POST traces/simulate."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("--port", required=True, metavar="PORT",
                            help="the port the packet enters (name or id)")
        packet = parser.add_argument_group("packet")
        packet.add_argument("--src-mac", type=_mac, metavar="MAC")
        packet.add_argument("--dst-mac", type=_mac, metavar="MAC")
        packet.add_argument("--src-ip", type=ip_address, metavar="IP")
        packet.add_argument("--dst-ip", type=ip_address, metavar="IP")
        packet.add_argument("--proto", type=_proto, metavar="{tcp,udp,icmp,N}",
                            help="IP protocol, by name or number")
        packet.add_argument("--src-port", type=_bounded(0, 65535), metavar="N")
        packet.add_argument("--dst-port", type=_bounded(0, 65535), metavar="N")
        packet.add_argument("--vlan", type=_bounded(0, 4095), metavar="N")
        packet.add_argument("--ethertype", choices=ETHERTYPES)
        parser.add_argument("--mode", choices=MODES,
                            help="detailed: every step; summary, minimal: fewer lines")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        client = client_of(self)
        body = simulate_body(parsed_args)
        body["port"] = resolve(client, PORTS, parsed_args.port)
        answer = client.post("traces/simulate", body)
        if not isinstance(answer, dict):
            raise CliError("the API's simulation answer is not a JSON object")
        self.answer = answer
        return step_rows(answer)

    def produce_output(self, parsed_args: argparse.Namespace, column_names: Sequence[str],
                       data: Iterable[Sequence[Any]]) -> int:
        """JSON and YAML get the answer whole; a table gets the outcome under it."""
        if parsed_args.formatter in WHOLE_ANSWER_FORMATS and isinstance(
                self.formatter, SingleFormatter):
            names = list(self.answer)
            self.formatter.emit_one(names, [self.answer[k] for k in names], self.app.stdout,
                                    parsed_args)
            return 0
        result = super().produce_output(parsed_args, column_names, data)
        if parsed_args.formatter == "table":
            self.app.stdout.write("".join(line + "\n" for line in footer(self.answer)))
        return result


class TraceFlows(LocalCommand, Lister):
    """List the simulations agents recorded for a trace request: GET traces/{id}/flows."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("trace", metavar="TRACE", help="trace request name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        client = client_of(self)
        trace = resolve(client, TRACES, parsed_args.trace)
        records = [r for r in client.get(f"traces/{trace}/flows") or [] if isinstance(r, dict)]
        if parsed_args.formatter in WHOLE_ANSWER_FORMATS:
            keys = _keys(records) or ["hostId", "timestamp", "result"]
            return keys, display.rows(records, keys)
        columns = ["hostId", "timestamp", "result", "reason", "trace"]
        return columns, [(*display.rows([r], columns[:4])[0], trace_text(r)) for r in records]


COMMANDS = {
    "trace simulate": TraceSimulate,
    "trace flows": TraceFlows,
}
