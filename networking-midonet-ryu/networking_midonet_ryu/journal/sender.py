"""Sending the journal to the cluster, in order, without losing anything.

The rules, and why:

- Rows go in id order, one at a time, and a row is marked done (in its own
  short transaction) only after the cluster accepted it: the cluster then
  sees Neutron's changes in the order Neutron committed them, and a crash
  between the send and the mark only re-sends a row, which the cluster's
  idempotent endpoints absorb.
- A refusal (``Refused``: the cluster will never accept this change as it
  is) marks the row failed with the cluster's message and the next rows go
  on: one bad resource must not stop the others.
- An outage (``Unavailable``) stops the pass and keeps the row pending with
  one more attempt counted; the caller waits the backoff and tries the same
  row again. Nothing is dropped or reordered. Any unexpected error is
  treated as an outage for the same reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from oslo_log import log as logging

from networking_midonet_ryu.client import ClusterClient, Refused, Unavailable
from networking_midonet_ryu.db import models
from networking_midonet_ryu.db.journal import Entry

LOG = logging.getLogger(__name__)

Transport = Callable[[Entry], Any]
"""Sends one row; raises Refused or Unavailable."""


class Store(Protocol):
    def pending(self, context: Any, limit: int) -> list[Entry]: ...

    def mark_done(self, context: Any, entry: Entry) -> None: ...

    def mark_failed(self, context: Any, entry: Entry, error: str) -> None: ...

    def mark_retry(self, context: Any, entry: Entry, error: str) -> None: ...


class Backoff:
    """Waits that start at ``initial`` and double up to ``maximum``."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.current = 0.0

    def failure(self) -> float:
        self.current = self.initial if not self.current else min(self.current * 2, self.maximum)
        return self.current

    def success(self) -> None:
        self.current = 0.0


def cluster_transport(client: ClusterClient) -> Transport:
    """Send rows through ``client``: PUT the stored JSON, or DELETE."""

    def send(entry: Entry) -> Any:
        if entry.operation == models.UPSERT:
            return client.upsert(entry.resource, entry.resource_id, entry.data or '{}')
        if entry.operation == models.DELETE:
            return client.delete(entry.resource, entry.resource_id)
        raise Refused(0, f'unknown journal operation {entry.operation!r}')

    return send


class JournalSender:
    """One pass over the pending rows at a time (``process``)."""

    def __init__(self, store: Store, transport: Transport, backoff: Backoff,
                 batch: int = 100, stop: threading.Event | None = None) -> None:
        self.store = store
        self.transport = transport
        self.backoff = backoff
        self.batch = batch
        self._stop = stop or threading.Event()

    def process(self, context: Any) -> float:
        """Send pending rows in id order until none is left or the cluster is down.

        Answers how long the caller should wait before the next pass: 0 when
        every pending row was handled, the backoff after an outage.
        """
        while not self._stop.is_set():
            entries = self.store.pending(context, self.batch)
            if not entries:
                return 0.0
            for entry in entries:
                if self._stop.is_set():
                    return 0.0
                delay = self._send_one(context, entry)
                if delay:
                    return delay
            if len(entries) < self.batch:
                return 0.0
        return 0.0

    def _send_one(self, context: Any, entry: Entry) -> float:
        try:
            self.transport(entry)
        except Refused as exc:
            LOG.warning('midonet-ryu cluster refused journal row %(id)s (%(op)s %(res)s/%(rid)s): '
                        '%(msg)s', {'id': entry.id, 'op': entry.operation,
                                    'res': entry.resource, 'rid': entry.resource_id,
                                    'msg': exc.message})
            self.store.mark_failed(context, entry, exc.message)
            return 0.0
        except Unavailable as exc:
            return self._retry(context, entry, str(exc))
        except Exception as exc:  # never drop a row because of a bug on our side
            LOG.exception('Unexpected error sending journal row %s', entry.id)
            return self._retry(context, entry, f'{type(exc).__name__}: {exc}')
        self.store.mark_done(context, entry)
        self.backoff.success()
        return 0.0

    def _retry(self, context: Any, entry: Entry, error: str) -> float:
        self.store.mark_retry(context, entry, error)
        delay = self.backoff.failure()
        LOG.info('midonet-ryu cluster unavailable (%(err)s); journal row %(id)s retried '
                 'in %(delay).1f s', {'err': error, 'id': entry.id, 'delay': delay})
        return delay
