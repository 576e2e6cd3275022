"""What a translation may read besides the resource itself.

Reads go through the transaction that applies the translation, so whatever
a translation was computed from is version-checked at commit: a translation
never lands on a state it did not see.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from midonet_ryu.topology.base import ModelObject

T = TypeVar("T", bound=ModelObject)


@dataclasses.dataclass(frozen=True, slots=True)
class Uplink:
    """A gateway host's interface on a physical network (``physnet:host:interface``)."""

    physnet: str
    host: str
    interface: str

    @classmethod
    def parse(cls, text: str) -> Uplink:
        parts = text.strip().split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"uplink {text!r} is not physnet:hostname:interface")
        return cls(*parts)


class Inputs(Protocol):
    hosts: Mapping[str, uuid.UUID]  # hypervisor hostname -> host id
    uplinks: Sequence[Uplink]

    def body(self, collection: str, obj_id: uuid.UUID) -> dict[str, Any] | None:
        """The stored Neutron resource, as last sent."""

    def find(self, cls: type[T], obj_id: uuid.UUID) -> T | None:
        """An NSDB object."""
