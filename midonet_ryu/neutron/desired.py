"""What a Neutron resource translates into: objects it owns, and entries it
adds to objects and tables that others own.

A port owns its bridge port and its filter chains, but its addresses are
entries in its subnet's DHCP host list, in its security groups' address
groups and in its network's IPv4-to-MAC table: those are *contributions*,
removed one by one when the port changes, never by rewriting the shared
object. The record of what was applied is stored with the resource, so an
update or a delete undoes exactly what the previous version did, even when
what it was translated from has changed since.
"""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from midonet_ryu.topology.base import ModelObject


@dataclasses.dataclass(frozen=True, slots=True)
class DhcpHostEntry:
    dhcp_id: uuid.UUID
    mac: str
    ip: str
    name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class GroupMember:
    group_id: uuid.UUID
    ip: str
    port_id: uuid.UUID


@dataclasses.dataclass(frozen=True, slots=True)
class Ip4Mac:
    network_id: uuid.UUID
    ip: str
    mac: str


Contribution = DhcpHostEntry | GroupMember | Ip4Mac
_CONTRIBUTIONS: dict[str, type] = {c.__name__: c for c in (DhcpHostEntry, GroupMember, Ip4Mac)}


@dataclasses.dataclass(slots=True)
class Desired:
    """``objects`` in creation order (what they reference first). ``kept``:
    fields of an owned object whose stored value others maintain (a security
    group's address group members are its ports' contributions)."""

    objects: list[ModelObject] = dataclasses.field(default_factory=list)
    contributions: set[Contribution] = dataclasses.field(default_factory=set)
    kept: dict[uuid.UUID, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def add(self, *objs: ModelObject) -> None:
        self.objects.extend(objs)


@dataclasses.dataclass(frozen=True, slots=True)
class Applied:
    """What a stored resource's translation put in the NSDB."""

    owned: tuple[tuple[str, uuid.UUID], ...] = ()
    contributions: frozenset[Contribution] = frozenset()

    @classmethod
    def of(cls, desired: Desired) -> Applied:
        return cls(tuple((o.kind, o.id) for o in desired.objects),
                   frozenset(desired.contributions))

    def to_json(self) -> dict[str, Any]:
        return {
            "owned": [[kind, str(obj_id)] for kind, obj_id in self.owned],
            "contributions": sorted(
                ([type(c).__name__, *(str(getattr(c, f.name)) for f in dataclasses.fields(c))]
                 for c in self.contributions), key=str),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Applied:
        owned = tuple((kind, uuid.UUID(obj_id)) for kind, obj_id in raw.get("owned", ()))
        contributions = set()
        for name, *values in raw.get("contributions", ()):
            ctype = _CONTRIBUTIONS[name]
            args = [uuid.UUID(v) if f.type in ("uuid.UUID", uuid.UUID) else v
                    for f, v in zip(dataclasses.fields(ctype), values, strict=True)]
            contributions.add(ctype(*args))
        return cls(owned, frozenset(contributions))
