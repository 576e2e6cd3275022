"""Flow-state replication between agents: the pure core.

A simulation that creates or uses conntrack and NAT keys sends them, before
the data packet, to every host that may simulate the same connection later
(the interested set), so a return packet entering the topology on another
host finds the state it needs. This package decides and encodes; the agent's
shell (``midonet_ryu.flowstate.replicator``) does the sending and writing. See
doc/flow-state.md.
"""
from midonet_ryu.flowstate.ledger import SendLedger
from midonet_ryu.flowstate.payload import FlowStateMessage, decode_payload, encode_payload
from midonet_ryu.flowstate.peers import interested_hosts, interested_ports
from midonet_ryu.flowstate.plan import IMPORT_TTL_FACTOR, import_plan, keys_for_peer
from midonet_ryu.flowstate.state_packet import (
    MAX_FRAME,
    MAX_PAYLOAD,
    decode_frame,
    encode_frames,
    split_message,
)

__all__ = [
    "IMPORT_TTL_FACTOR",
    "MAX_FRAME",
    "MAX_PAYLOAD",
    "FlowStateMessage",
    "SendLedger",
    "decode_frame",
    "decode_payload",
    "encode_frames",
    "encode_payload",
    "import_plan",
    "interested_hosts",
    "interested_ports",
    "keys_for_peer",
    "split_message",
]
