"""What a simulation returns: plain data the agent turns into flows and packets.

The engine knows nothing of OpenFlow: it says *where* the packet goes in the
virtual topology (``ToPort`` an exterior port), *how* it is rewritten on the
way (``SetField``), which header fields it looked at (``wildcard``) and what
it depended on (``tags``). The agent maps ports to local outputs or tunnels.
"""
from __future__ import annotations

import enum
import uuid
from collections.abc import Hashable
from typing import Any, NamedTuple

# Flow timeouts, seconds (MidoNet's defaults).
DROP_HARD_TIMEOUT = 60.0  # ordinary drop flows
ERROR_DROP_HARD_TIMEOUT = 5.0  # loops, missing topology, simulation errors
ARP_WAIT_DROP_TIMEOUT = 0.0  # unknown next hop: drop this packet, install no flow
ICMP_ERROR_DROP_TIMEOUT = 5.0  # unreachable/prohibited answered: also rate-limits the ICMP
FORWARD_IDLE_TIMEOUT = 60.0  # normal flows (idle)
STATEFUL_HARD_TIMEOUT = 30.0  # half of the state-key TTL, so state is refreshed


class ResultKind(enum.Enum):
    """What happens to the packet and whether a flow may be installed.

    FORWARD: install a flow applying ``actions`` to every matching packet.
    DROP: install a drop flow for ``drop_timeout`` seconds (0: install none).
    ERROR_DROP: as DROP, but the topology is broken (loop, missing device).
    CONSUMED: the engine answered the packet itself (ARP, ICMP echo to a router,
        DHCP) or only learned from it; ``generated`` holds any reply. Never
        install a flow: every such packet must be simulated.
    """

    FORWARD = "forward"
    DROP = "drop"
    ERROR_DROP = "error_drop"
    CONSUMED = "consumed"
    NO_OP = "consumed"  # alias, MidoNet's name


class ToPort(NamedTuple):
    """Output to an exterior port (local or on another host: the agent decides)."""

    port_id: uuid.UUID


class SetField(NamedTuple):
    """Rewrite header ``name`` (a FlowMatch field name) to ``value`` before later outputs.

    ``SetField("vlan_id", None)`` pops the VLAN tag; an int pushes or sets it.
    """

    name: str
    value: Any


Action = ToPort | SetField


class Generated(NamedTuple):
    """A frame to send out of ``port_id``.

    If the port is exterior, packet-out it there. If it is interior (a
    router's ARP request towards its bridge), the frame enters the topology at
    the port's peer: parse it with ``parse_frame(frame, peer_id)`` and
    simulate it (``engine.simulate_generated`` does both).
    """

    port_id: uuid.UUID
    frame: bytes


class MacLearned(NamedTuple):
    """Write ``mac -> port_id`` into the MAC table of (network_id, vlan)."""

    network_id: uuid.UUID
    vlan: int | None
    mac: str
    port_id: uuid.UUID


class ArpLearned(NamedTuple):
    """Write ``ip -> mac`` into router ``router_id``'s ARP table (ip is an int)."""

    router_id: uuid.UUID
    ip: int
    mac: str


class SnatBlockRequest(NamedTuple):
    """The engine ran out of leased SNAT ports for (device, ip): lease another block
    of 64 in ``[port_start, port_end]`` and let the next packet retry. ``wanted``:
    blocks to lease at once (the agent's lease-ahead sets it from demand)."""

    device_id: uuid.UUID
    ip: int
    port_start: int
    port_end: int
    wanted: int = 1


_EMPTY: frozenset[Any] = frozenset()


class SimulationResult:
    """The outcome of one simulation; see doc/simulation.md for the semantics."""

    __slots__ = (
        "kind", "actions", "generated", "wildcard", "wildcard_mask", "tags", "learned",
        "state_keys", "created_keys", "stateful", "drop_timeout", "reason", "devices",
        "snat_requests", "egress_port_ids",
    )

    def __init__(
        self,
        kind: ResultKind,
        actions: tuple[Action, ...] = (),
        generated: tuple[Generated, ...] = (),
        wildcard: frozenset[str] = _EMPTY,
        wildcard_mask: int = 0,
        tags: frozenset[Hashable] = _EMPTY,
        learned: tuple[MacLearned | ArpLearned, ...] = (),
        state_keys: tuple[tuple[Hashable, Any], ...] = (),
        created_keys: frozenset[Hashable] = _EMPTY,
        stateful: bool = False,
        drop_timeout: float | None = None,
        reason: str = "",
        devices: tuple[uuid.UUID, ...] = (),
        snat_requests: tuple[SnatBlockRequest, ...] = (),
    ) -> None:
        self.kind = kind
        self.actions = actions
        self.generated = generated
        self.wildcard = wildcard
        self.wildcard_mask = wildcard_mask
        self.tags = tags
        self.learned = learned
        self.state_keys = state_keys
        self.created_keys = created_keys
        self.stateful = stateful
        self.drop_timeout = drop_timeout
        self.reason = reason
        self.devices = devices
        self.snat_requests = snat_requests
        self.egress_port_ids = tuple(a.port_id for a in actions if type(a) is ToPort)

    @property
    def hard_timeout(self) -> float | None:
        """Suggested hard timeout of the flow: drops expire, stateful flows refresh."""
        if self.kind is ResultKind.FORWARD:
            return STATEFUL_HARD_TIMEOUT if self.stateful else None
        return self.drop_timeout

    @property
    def idle_timeout(self) -> float | None:
        return FORWARD_IDLE_TIMEOUT if self.kind is ResultKind.FORWARD else None

    def __repr__(self) -> str:
        return (f"SimulationResult({self.kind.name}, actions={list(self.actions)}, "
                f"generated={len(self.generated)}, reason={self.reason!r})")
