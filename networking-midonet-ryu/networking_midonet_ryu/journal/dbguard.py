"""One transaction at a time on an engine whose threads share one connection.

Neutron's unit tests run on an in-memory SQLite database behind a
``StaticPool``: every thread gets the same DBAPI connection. A worker thread
that reads the journal there while the test's thread is inside a transaction
sees that transaction's uncommitted rows, and its COMMIT commits them, so a
rollback the test expects no longer happens. Real deployments (a connection
per checkout) never need this; the worker installs the guard only on such an
engine.

The guard takes a re-entrant lock when a connection begins a transaction
(before oslo.db's SQLite listener emits ``BEGIN``) and gives it back once
the DBAPI connection has committed or rolled back. SQLAlchemy's commit and
rollback events come just before that DBAPI call, so they only mark the
lock as due; the engine's dialect, wrapped, gives it back after the call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from oslo_log import log as logging
from sqlalchemy import event, pool

LOG = logging.getLogger(__name__)


class GuardTimeout(RuntimeError):
    """A background thread waited too long for the shared connection."""


class SharedConnectionGuard:
    def __init__(self, engine: Any, background_timeout: float = 10.0,
                 foreground_timeout: float = 60.0) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._state = threading.local()  # held: begun here; due: ended, DBAPI call pending
        self._originals: dict[str, Callable[[Any], None]] = {}
        self._background = threading.local()
        self.background_timeout = background_timeout
        self.foreground_timeout = foreground_timeout
        self._installed = False

    @staticmethod
    def needed(engine: Any) -> bool:
        return isinstance(getattr(engine, 'pool', None), pool.StaticPool)

    def mark_background(self) -> None:
        """Call from a worker thread: its waits are bounded and it gives way."""
        self._background.on = True

    def install(self) -> None:
        if self._installed:
            return
        dialect = self.engine.dialect
        self._originals = {name: getattr(dialect, name) for name in ('do_commit', 'do_rollback')}
        for name, original in self._originals.items():
            setattr(dialect, name, self._then_release(original))
        self._listen_first('begin', self._begin)
        event.listen(self.engine, 'commit', self._ending)
        event.listen(self.engine, 'rollback', self._ending)
        self._installed = True

    def _listen_first(self, identifier: str, fn: Callable[[Any], None]) -> None:
        # insert=True does not put a listener ahead of oslo.db's (which emits
        # BEGIN): take theirs off and put them back behind ours.
        others = list(getattr(self.engine.dispatch, identifier))
        for other in others:
            event.remove(self.engine, identifier, other)
        event.listen(self.engine, identifier, fn)
        for other in others:
            event.listen(self.engine, identifier, other)

    def remove(self) -> None:
        if not self._installed:
            return
        event.remove(self.engine, 'begin', self._begin)
        event.remove(self.engine, 'commit', self._ending)
        event.remove(self.engine, 'rollback', self._ending)
        for name in self._originals:
            # The wrappers are instance attributes: dropping them brings
            # the class's methods back.
            self.engine.dialect.__dict__.pop(name, None)
        self._installed = False

    def _count(self, name: str) -> int:
        return getattr(self._state, name, 0)

    def _begin(self, conn: Any) -> None:
        self._release_due()  # a rollback SQLAlchemy skipped (invalid connection)
        background = getattr(self._background, 'on', False)
        timeout = self.background_timeout if background else self.foreground_timeout
        if not self._lock.acquire(timeout=timeout):
            if background:
                raise GuardTimeout('the shared database connection stayed busy')
            LOG.error('Shared database connection busy for %s s; going on unguarded', timeout)
            return
        self._state.held = self._count('held') + 1

    def _ending(self, conn: Any) -> None:
        if self._count('held') > self._count('due'):
            self._state.due = self._count('due') + 1

    def _release_due(self) -> None:
        while self._count('due') > 0:
            self._state.due -= 1
            self._state.held -= 1
            self._lock.release()

    def _then_release(self, original: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(dbapi_connection: Any) -> None:
            try:
                original(dbapi_connection)
            finally:
                self._release_due()

        return call
