"""The simulation engine: a packet's path through the virtual topology, as data.

Entry points for the agent::

    from midonet_ryu.simulation import parse_frame, simulate
    result = simulate(parse_frame(frame, in_port_id), topology, state, now)

See doc/simulation.md for the result format and the semantics.
"""
from midonet_ryu.simulation.engine import simulate, simulate_generated
from midonet_ryu.simulation.packet import FlowMatch, MalformedPacket, parse_frame
from midonet_ryu.simulation.result import (
    ArpLearned,
    Generated,
    MacLearned,
    ResultKind,
    SetField,
    SimulationResult,
    SnatBlockRequest,
    ToPort,
)
from midonet_ryu.simulation.state import InMemoryState, StateView

__all__ = [
    "simulate", "simulate_generated", "FlowMatch", "MalformedPacket", "parse_frame",
    "ArpLearned", "Generated", "MacLearned", "ResultKind", "SetField", "SimulationResult",
    "SnatBlockRequest", "ToPort", "InMemoryState", "StateView",
]
