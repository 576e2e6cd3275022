"""What one step of the walk decides: small typed values, dispatched on their type.

A device (bridge, router) returns one *step*: ``ToDevicePort`` (the packet
leaves by this port of the device; the walker follows it), ``Flood`` (it
leaves by all these exterior ports), ``Drop`` or ``Consumed``. Filters, DHCP
and the load balancer return None to let the packet go on, or the ``Drop`` /
``Consumed`` that ends its path. The walker ends with an *outcome*:
``Forward``, ``Drop`` or ``Consumed``, which ``engine.simulate`` turns into
the public ``SimulationResult``.

The walker dispatches with ``type(step) is Drop``: one pointer compare, and
a value of any other type (a new step nobody taught the walker, a stray
tuple) raises instead of being taken for a drop.

These are ``__slots__`` classes rather than NamedTuples: on CPython 3.11 a
NamedTuple is built through a Python-level ``__new__`` and costs about twice
as much (about 270 ns against 150 ns), and a step is built on every packet.
They also never compare equal to a plain tuple. Treat them as immutable.
Steps whose contents are fixed are built once, at import or compile time
(``Drop(None, "blackhole route")``, a router port's ``ToDevicePort``).
"""
from __future__ import annotations

import enum
from typing import Any

from midonet_ryu.topology.model import Port


class _Step:
    """Value semantics (equality, hash, repr) for the tests and the logs; the
    walker never compares steps, it only looks at their type."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Step)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({args})"


class Drop(_Step):
    """The packet goes no further. ``timeout`` is the drop flow's lifetime in
    seconds: None for the default, 0 for no flow (the next packet must be
    simulated again, e.g. after an ARP request or a SNAT block request)."""

    __slots__ = ("timeout", "reason")

    def __init__(self, timeout: float | None, reason: str) -> None:
        self.timeout = timeout
        self.reason = reason


class Consumed(_Step):
    """The engine answered the packet itself or only learned from it; no flow."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class ToDevicePort(_Step):
    """The packet leaves the device by its port ``port`` (exterior or linked).

    The step holds the port itself, not its id: the device has it at hand
    (compiled with the device, which is re-validated when the port changes,
    or just looked up), and the walker is spared a topology lookup per hop.
    """

    __slots__ = ("port",)

    def __init__(self, port: Port) -> None:
        self.port = port


class Flood(_Step):
    """The packet leaves a bridge by every port in ``ports`` (exterior ports of
    its VLAN but the ingress one); their outbound filters have not run yet."""

    __slots__ = ("ports",)

    def __init__(self, ports: tuple[Port, ...]) -> None:
        self.ports = ports


class Forward(_Step):
    """The walk's end: output to these exterior ports (possibly none, after
    the flood targets' filters)."""

    __slots__ = ("ports",)

    def __init__(self, ports: tuple[Port, ...]) -> None:
        self.ports = ports


Step = ToDevicePort | Flood | Drop | Consumed
"""What a device returns."""

Outcome = Forward | Drop | Consumed
"""What the walk returns."""

Verdict = Drop | Consumed | None
"""What a filter, DHCP or the load balancer returns: None lets the packet go on."""

DEVICE_STEPS: tuple[type[_Step], ...] = (ToDevicePort, Flood, Drop, Consumed)
OUTCOMES: tuple[type[_Step], ...] = (Forward, Drop, Consumed)


class NatResult(enum.Enum):
    """What applying a NAT rule whose condition matched did.

    Only TRANSLATED lets the rule's action decide; NOT_APPLIED skips the rule
    (a reverse rule without state, a non-IP packet); the other two drop the
    packet.
    """

    NOT_APPLIED = "not_applied"
    TRANSLATED = "translated"
    FRAGMENT = "fragment"  # dynamic NAT cannot translate ports it cannot see
    PORTS_EXHAUSTED = "ports_exhausted"  # a SNAT block was requested; retry later
