"""Store.run re-runs a write that lost a race, pausing a growing random time
between attempts when asked to."""
from __future__ import annotations

import uuid

import pytest
from kazoo.exceptions import BadVersionError, NoNodeError, RolledBackError

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import ConcurrentModification, Store
from midonet_ryu.topology.model import Network


class _Txn:
    def __init__(self, client: _Client) -> None:
        self.client = client

    def __getattr__(self, name):
        return lambda *a, **kw: None

    def commit(self):
        self.client.commits += 1
        if self.client.commits <= self.client.conflicts:
            return [BadVersionError(), RolledBackError()]
        return [True]


class _Client:
    """What Store needs of a kazoo client, with commits that conflict first."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.commits = 0
        self.slept: list[float] = []
        self.handler = type("H", (), {"sleep_func": staticmethod(self.slept.append)})()

    def retry(self, fn, *args, **kw):
        return fn(*args, **kw)

    def get(self, path):
        raise NoNodeError()

    def ensure_path(self, path):
        pass

    def transaction(self):
        return _Txn(self)


def _create(tx):
    return tx.create(Network(id=uuid.uuid4()))


def test_conflicts_are_rerun_with_growing_pauses():
    client = _Client(conflicts=8)
    Store(client, Paths()).run(_create, retries=10, pause=0.01)  # type: ignore[arg-type]
    assert client.commits == 9
    assert len(client.slept) == 8
    caps = [0.01 * 2 ** min(i, 6) for i in range(8)]
    assert all(0 <= s <= cap for s, cap in zip(client.slept, caps, strict=True))


def test_no_pause_unless_asked_and_the_last_conflict_is_raised():
    client = _Client(conflicts=5)
    with pytest.raises(ConcurrentModification):
        Store(client, Paths()).run(_create, retries=3)  # type: ignore[arg-type]
    assert client.commits == 3 and client.slept == []
