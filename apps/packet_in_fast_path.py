"""Packet-ins straight from OS-Ken's receive loop to the agent, as bytes.

Why: measured on the flow-setup benchmark, most of a new flow's time in the
agent was outside the agent's own steps. OS-Ken parses every packet-in into
an ``OFPPacketIn`` with an ``OFPMatch`` (about 9 us), wraps it in an event,
queues it for the app's event thread and switches green threads to run the
handler. The agent needs three fields of it, which
:func:`midonet_ryu.datapath.ofwire.decode_packet_in` reads in about 1 us.

How: OS-Ken's ``Datapath._recv_loop`` calls ``ofproto_parser.msg`` for each
message and dispatches only what it returns. :func:`install` wraps that
function once per process; for a datapath that registered a handler
(:func:`attach`), a packet-in goes to the handler as raw bytes and nothing is
dispatched. Every other message, and packet-ins of other datapaths, take
OS-Ken's normal path. If a future OS-Ken stops calling that function the
wrapper is never used and packet-ins arrive as events, which the agent
still handles: slower, never wrong.

The handler runs in the receive loop's green thread. The agent's only
decodes the packet-in and queues it in its bounded inbox
(:mod:`midonet_ryu.datapath.fair_inbox`), which another green thread
serves by ingress in turn: the connection is read as fast as packets come,
and when the agent falls behind, it is the inbox, not the switch's FIFO
queue, that decides which packets go.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from os_ken.ofproto import ofproto_parser

LOG = logging.getLogger(__name__)
OFPT_PACKET_IN = 10
_ATTR = "_midonet_packet_in"

RawHandler = Callable[[bytes], None]


def install() -> bool:
    """Wrap OS-Ken's message parser (idempotent). False if it cannot be."""
    current = getattr(ofproto_parser, "msg", None)
    if current is None:
        return False
    if getattr(current, "_midonet_fast_path", False):
        return True

    def msg(datapath: Any, version: int, msg_type: int, msg_len: int, xid: int,
            buf: Any) -> Any:
        if msg_type == OFPT_PACKET_IN:
            handler = getattr(datapath, _ATTR, None)
            if handler is not None:
                handler(bytes(buf))
                return None
        return current(datapath, version, msg_type, msg_len, xid, buf)

    msg._midonet_fast_path = True  # type: ignore[attr-defined]
    ofproto_parser.msg = msg
    return True


def attach(datapath: Any, handler: RawHandler) -> None:
    setattr(datapath, _ATTR, handler)


def detach(datapath: Any) -> None:
    if hasattr(datapath, _ATTR):
        delattr(datapath, _ATTR)
