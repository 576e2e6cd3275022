"""Which flow tags a topology change invalidates (pure)."""
from __future__ import annotations

import uuid
from collections.abc import Hashable
from typing import Any

from midonet_ryu.simulation import tags

# kinds whose change can change which ports are bound here or where tunnels go
SYNC_KINDS = frozenset({"Port", "Host", "TunnelZone"})


def topology_change_tags(kind: str, obj_id: uuid.UUID, old: Any, new: Any) -> list[Hashable]:
    """Invalidate what depended on the object and on the devices holding it.

    A route, rule, port or pool member changes its parent's behaviour, so
    every single-valued reference of the object (router_id, chain_id,
    network_id, ...) is treated as a changed device too.
    """
    changed: set[Hashable] = {tags.device(obj_id)}
    for obj in (old, new):
        if obj is None:
            continue
        for name in obj.__dataclass_fields__:
            value = getattr(obj, name)
            if isinstance(value, uuid.UUID) and name != "id":
                changed.add(tags.device(value))
    if kind == "Port":
        changed.add(tags.port(obj_id))
    elif kind == "Rule":
        changed.add(tags.rule(obj_id))
    elif kind == "TraceRequest":
        # the traced port's flows must come back to the agent to be recorded
        for obj in (old, new):
            if obj is not None and obj.device_id is not None:
                changed.add(tags.port(obj.device_id))
    return list(changed)
