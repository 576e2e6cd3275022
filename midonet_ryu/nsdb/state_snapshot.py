"""One read of a state table, for readers that do not follow it (the REST API).

A table's entries are the children of its znode; the winner of each key is
decided by the same rule every follower applies (:mod:`state_winners`), so a
snapshot shows exactly what the agents see.
"""
from __future__ import annotations

import uuid
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import TableSpec, table_path
from midonet_ryu.nsdb.state_winners import TableState


def read_table(client: KazooClient, paths: Paths, spec: TableSpec[Any, Any], object_id: uuid.UUID,
               args: tuple[str, ...] = ()) -> dict[Any, Any]:
    """``{key: winning value}`` now; an absent table reads as empty."""
    try:
        children = client.retry(client.get_children, table_path(paths, spec, object_id, args))
    except NoNodeError:
        return {}
    state = TableState(spec)
    state.replace(children)
    return {key: entry.value for key, entry in state.winners.items()}


def table_args(client: KazooClient, paths: Paths, spec: TableSpec[Any, Any],
               object_id: uuid.UUID) -> list[str]:
    """The arguments under which ``object_id`` has tables (a network's VLANs)."""
    try:
        return sorted(client.retry(client.get_children,
                                   paths.table(spec.kind, object_id, spec.name)))
    except NoNodeError:
        return []
