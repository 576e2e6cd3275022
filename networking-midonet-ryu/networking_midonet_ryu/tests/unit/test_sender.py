"""The journal sender's rules, with an in-memory journal and a fake transport."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest

from networking_midonet_ryu.client import Refused, Unavailable
from networking_midonet_ryu.db import models
from networking_midonet_ryu.db.journal import Entry
from networking_midonet_ryu.journal.sender import Backoff, JournalSender, cluster_transport


class MemoryStore:
    """The journal table's rules in a dict: pending rows come out in id order."""

    def __init__(self, count: int) -> None:
        self.rows = {i: Entry(i, 'ports', f'p{i}', models.UPSERT, f'{{"id": "p{i}"}}')
                     for i in range(1, count + 1)}

    def pending(self, context: Any, limit: int) -> list[Entry]:
        return sorted((e for e in self.rows.values() if e.state == models.PENDING),
                      key=lambda e: e.id)[:limit]

    def _set(self, entry: Entry, **changes: Any) -> None:
        self.rows[entry.id] = dataclasses.replace(self.rows[entry.id], **changes)

    def mark_done(self, context: Any, entry: Entry) -> None:
        self._set(entry, state=models.DONE, attempts=entry.attempts + 1)

    def mark_failed(self, context: Any, entry: Entry, error: str) -> None:
        self._set(entry, state=models.FAILED, attempts=entry.attempts + 1, last_error=error)

    def mark_retry(self, context: Any, entry: Entry, error: str) -> None:
        self._set(entry, attempts=entry.attempts + 1, last_error=error)

    def states(self) -> dict[int, str]:
        return {i: e.state for i, e in sorted(self.rows.items())}


class Transport:
    """Records what was sent; ``outcome(entry)`` may raise to refuse or fail."""

    def __init__(self, outcome: Callable[[Entry], None] = lambda entry: None) -> None:
        self.sent: list[int] = []
        self.outcome = outcome

    def __call__(self, entry: Entry) -> None:
        self.sent.append(entry.id)
        self.outcome(entry)


def sender(store: MemoryStore, transport: Transport, batch: int = 100) -> JournalSender:
    return JournalSender(store, transport, Backoff(0.5, 10.0), batch=batch)


def test_rows_go_in_id_order_and_are_marked_done() -> None:
    store = MemoryStore(5)
    store.rows[2], store.rows[4] = (dataclasses.replace(store.rows[2], state=models.DONE),
                                    dataclasses.replace(store.rows[4], state=models.FAILED))
    transport = Transport()
    assert sender(store, transport).process(None) == 0.0
    assert transport.sent == [1, 3, 5]
    assert store.states() == {1: models.DONE, 2: models.DONE, 3: models.DONE,
                              4: models.FAILED, 5: models.DONE}


def test_more_rows_than_a_batch_are_all_sent() -> None:
    store = MemoryStore(7)
    transport = Transport()
    sender(store, transport, batch=3).process(None)
    assert transport.sent == [1, 2, 3, 4, 5, 6, 7]


def test_refused_row_fails_with_the_cluster_message_and_the_next_go_on() -> None:
    store = MemoryStore(3)

    def refuse_two(entry: Entry) -> None:
        if entry.id == 2:
            raise Refused(422, 'midonet-ryu supports IPv4 subnets only')

    transport = Transport(refuse_two)
    assert sender(store, transport).process(None) == 0.0
    assert transport.sent == [1, 2, 3]
    assert store.states() == {1: models.DONE, 2: models.FAILED, 3: models.DONE}
    assert store.rows[2].last_error == 'midonet-ryu supports IPv4 subnets only'
    # A failed row is not sent again.
    transport.sent.clear()
    sender(store, transport).process(None)
    assert transport.sent == []


def test_outage_stops_keeps_the_row_and_retries_it_first() -> None:
    store = MemoryStore(3)
    down = {'on': True}

    def outage_at_two(entry: Entry) -> None:
        if entry.id == 2 and down['on']:
            raise Unavailable('connection refused')

    transport = Transport(outage_at_two)
    the_sender = sender(store, transport)
    assert the_sender.process(None) == 0.5
    assert transport.sent == [1, 2]
    assert store.states() == {1: models.DONE, 2: models.PENDING, 3: models.PENDING}
    assert store.rows[2].attempts == 1
    assert store.rows[2].last_error == 'connection refused'
    assert the_sender.process(None) == 1.0  # still down: the wait doubles
    assert transport.sent == [1, 2, 2]
    assert store.rows[2].attempts == 2
    down['on'] = False
    assert the_sender.process(None) == 0.0
    assert transport.sent == [1, 2, 2, 2, 3]
    assert set(store.states().values()) == {models.DONE}
    assert the_sender.backoff.current == 0.0


def test_unexpected_error_is_an_outage_not_a_drop() -> None:
    store = MemoryStore(2)

    def broken(entry: Entry) -> None:
        raise KeyError('bug')

    the_sender = sender(store, Transport(broken))
    assert the_sender.process(None) == 0.5
    assert store.states() == {1: models.PENDING, 2: models.PENDING}
    assert 'KeyError' in (store.rows[1].last_error or '')


def test_stop_between_rows() -> None:
    store = MemoryStore(3)
    stop = threading.Event()

    def stop_after_first(entry: Entry) -> None:
        stop.set()

    transport = Transport(stop_after_first)
    JournalSender(store, transport, Backoff(0.5, 10), stop=stop).process(None)
    assert transport.sent == [1]
    assert store.states() == {1: models.DONE, 2: models.PENDING, 3: models.PENDING}


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 10.0)
    assert [backoff.failure() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.success()
    assert backoff.failure() == 0.5


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def upsert(self, collection: str, resource_id: str, body: Any) -> None:
        self.calls.append(('upsert', collection, resource_id, body))

    def delete(self, collection: str, resource_id: str) -> None:
        self.calls.append(('delete', collection, resource_id))


def test_cluster_transport_puts_the_stored_json_or_deletes() -> None:
    client = FakeClient()
    send = cluster_transport(client)  # type: ignore[arg-type]
    send(Entry(1, 'networks', 'n1', models.UPSERT, '{"id": "n1"}'))
    send(Entry(2, 'networks', 'n1', models.DELETE, None))
    assert client.calls == [('upsert', 'networks', 'n1', '{"id": "n1"}'),
                            ('delete', 'networks', 'n1')]
    with pytest.raises(Refused):
        send(Entry(3, 'networks', 'n1', 'rename', None))
