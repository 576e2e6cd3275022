"""Referential integrity between topology classes, declared as data.

As in MidoNet's ZOOM, each binding names a reference field on both sides;
the store keeps the two sides consistent on every write, and on delete applies
the side's policy: CLEAR the back-reference, CASCADE the delete, or refuse
(ERROR) while references remain. Classes are named by string so modules that
declare bindings need not import each other.
"""
from __future__ import annotations

import dataclasses
import enum


class OnDelete(enum.Enum):
    CLEAR = "clear"
    CASCADE = "cascade"
    ERROR = "error"


@dataclasses.dataclass(frozen=True, slots=True)
class BindingEnd:
    """Seen from ``kind``: its ``field`` points at ``other_kind.other_field``."""

    kind: str
    field: str
    on_delete: OnDelete
    other_kind: str
    other_field: str
    # A back-reference: kept by the store alone. ``update`` keeps the stored
    # value, so writing back a stale copy of an object cannot drop references.
    maintained: bool = False


_BY_KIND: dict[str, list[BindingEnd]] = {}


def declare_binding(
    left_kind: str,
    left_field: str,
    left_on_delete: OnDelete,
    right_kind: str,
    right_field: str,
    right_on_delete: OnDelete,
    backref: str | None = None,
) -> None:
    """Bind ``left_kind.left_field`` and ``right_kind.right_field`` to each other.

    ``left_on_delete`` is what deleting a *left* object does to the right
    objects it references (and vice versa). ``backref`` ("left" or "right")
    names the side that only the store writes.
    """
    if backref not in (None, "left", "right"):
        raise ValueError("backref is 'left', 'right' or None")
    ends = [
        BindingEnd(left_kind, left_field, left_on_delete, right_kind, right_field,
                   backref == "left"),
        BindingEnd(right_kind, right_field, right_on_delete, left_kind, left_field,
                   backref == "right"),
    ]
    if (left_kind, left_field) == (right_kind, right_field):
        ends = ends[:1]  # a self-binding such as Port.peer_id <-> Port.peer_id
    for end in ends:
        existing = _BY_KIND.setdefault(end.kind, [])
        if any(e.field == end.field for e in existing):
            if end not in existing:
                raise ValueError(f"{end.kind}.{end.field} is bound twice")
            continue
        existing.append(end)


def bindings_of(kind: str) -> tuple[BindingEnd, ...]:
    return tuple(_BY_KIND.get(kind, ()))
