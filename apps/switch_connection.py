"""The one send path to the integration bridge.

Every OpenFlow message the agent sends goes through :meth:`SwitchConnection.send`:
it puts deletes before adds (a delete sent after an add of the same cookie
or match would remove the new flow), gives each message its xid, encodes it
with :mod:`midonet_ryu.datapath.ofwire` and hands the whole batch to the
connection in one write. It remembers recent messages by xid, so a message
the switch refuses is named in the log and counted, and a refused flow
leaves the flow index.
"""
from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from typing import Any

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.metrics import AgentCounter, AgentMetrics

LOG = logging.getLogger(__name__)
XID_MEMORY = 8192


class SwitchConnection:
    def __init__(self, datapath: Any, metrics: AgentMetrics,
                 on_refused: Callable[[Any], None] | None = None,
                 xid_memory: int = XID_MEMORY) -> None:
        self.datapath = datapath  # OS-Ken's Datapath: .xid, .send(bytes)
        self.metrics = metrics
        self.on_refused = on_refused
        self.xid_memory = xid_memory
        self._sent: collections.OrderedDict[int, Any] = collections.OrderedDict()

    def send(self, messages: Sequence[of.Message]) -> None:
        if not messages:
            return
        dp = self.datapath
        deletes = [m for m in messages if type(m) is of.FlowDelete]
        if deletes and len(deletes) != len(messages):
            messages = deletes + [m for m in messages if type(m) is not of.FlowDelete]
        xid = dp.xid
        sent = self._sent
        cache: dict[int, bytes] = {}
        parts = []
        encode = of.encode
        for message in messages:
            xid = (xid + 1) & 0xFFFFFFFF
            parts.append(encode(message, xid, cache))
            sent[xid] = message
        dp.xid = xid
        while len(sent) > self.xid_memory:
            sent.popitem(last=False)
        dp.send(parts[0] if len(parts) == 1 else b"".join(parts))

    def refused(self, xid: int, error_type: int, code: int, data: bytes) -> None:
        """An OFPT_ERROR from the switch: never silent, it means a flow is missing."""
        self.metrics.inc(AgentCounter.SWITCH_ERRORS)
        message = self._sent.pop(xid, None)
        if message is not None and type(message) is of.FlowMod:
            self.metrics.inc(AgentCounter.FLOWS_REFUSED)
        LOG.error("the switch refused a message (xid %s): error type %d code %d, %s",
                  xid, error_type, code,
                  repr(message) if message is not None else f"request {data[:64].hex()}")
        if message is not None and self.on_refused is not None:
            self.on_refused(message)
