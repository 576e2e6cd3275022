"""The journal worker: a process of its own in neutron-server, three threads.

1. The journal thread sends pending rows (``JournalSender``), then waits on
   a wake-up event for at most ``journal_poll_interval``: a commit in this
   same process (ML2 postcommit, the L3 and security group hooks) sets the
   event, so the row leaves at once; commits of other processes (the API
   workers) are found by the poll.
2. The port status thread long-polls ``GET /neutron/port_status`` and turns
   the answers into port status (``journal.status``).
3. The sync thread runs a full sync every ``sync_interval`` seconds.

The full sync and the journal pass never overlap (one lock): a sync
snapshot read while a newer row is being sent could make the cluster delete
what that row had just created; done one after the other, any row pending at
snapshot time is sent again after the sync, which only replays states the
cluster then moves past.

Neutron runs the worker in its own process (``get_workers``). Tests run it
in theirs with ``start_in_process`` and wait for it with ``drain``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from neutron_lib import context as n_context
from neutron_lib import worker
from neutron_lib.db import api as db_api
from oslo_config import cfg
from oslo_log import log as logging

from networking_midonet_ryu import conf
from networking_midonet_ryu import sync as full_sync
from networking_midonet_ryu.client import ClusterClient, Refused, Unavailable
from networking_midonet_ryu.db.journal import DbJournalStore
from networking_midonet_ryu.journal import status
from networking_midonet_ryu.journal.dbguard import SharedConnectionGuard
from networking_midonet_ryu.journal.sender import Backoff, JournalSender, cluster_transport

LOG = logging.getLogger(__name__)

_WAKE = threading.Event()
_PURGE_EVERY = 60.0


def notify() -> None:
    """Wake this process's journal worker (no-op where none runs)."""
    _WAKE.set()


def _admin() -> Any:
    return n_context.get_admin_context()


class JournalWorker(worker.BaseWorker):
    desc = 'midonet-ryu journal worker'

    def __init__(self, config: cfg.ConfigOpts | None = None,
                 client_factory: Callable[[], ClusterClient] | None = None,
                 store: DbJournalStore | None = None) -> None:
        super().__init__(worker_process_count=1, desc=self.desc)
        self._config = config or cfg.CONF
        self._client_factory = client_factory or self._default_client
        self._store = store or DbJournalStore()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._send_lock = threading.Lock()
        self._guard: SharedConnectionGuard | None = None
        # A cluster that answers an empty port status at once (no long
        # poll) is asked again only after this many seconds.
        self.status_idle_pause = 1.0
        self.last_sync_report: Any = None

    @property
    def opts(self) -> Any:
        return conf.options(self._config)

    def _default_client(self) -> ClusterClient:
        return ClusterClient.from_conf(self.opts)

    def _backoff(self) -> Backoff:
        return Backoff(self.opts.retry_interval, self.opts.max_retry_interval)

    # -- oslo.service ServiceBase ------------------------------------------------

    def start(self, name: str = 'neutron-server', desc: str | None = None) -> None:
        super().start(name=name, desc=desc or self.desc)
        self._start_threads(port_status=True, periodic_sync=True)

    def stop(self) -> None:
        self._stop.set()
        notify()
        for thread in self._threads:
            # The status thread may sit in a long poll; it touches nothing
            # once it sees the stop, so it is not waited for long.
            thread.join(2.0 if thread.name.endswith('status') else 30.0)
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._guard is not None:
            self._guard.remove()
            self._guard = None

    def wait(self) -> None:
        for thread in list(self._threads):
            thread.join()

    def reset(self) -> None:
        # Options are read again on each pass; nothing is cached to drop.
        LOG.info('midonet-ryu journal worker: reset')

    # -- for tests -------------------------------------------------------------

    def start_in_process(self, port_status: bool = True, periodic_sync: bool = False) -> None:
        """Run the threads in this process, without Neutron's process events."""
        self._start_threads(port_status=port_status, periodic_sync=periodic_sync)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until no journal row is pending; raise TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            pending = self._store.count_pending(_admin())
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f'{pending} midonet-ryu journal rows still pending '
                                   f'after {timeout} s')
            notify()
            time.sleep(0.01)

    # -- work --------------------------------------------------------------------

    def sync_now(self, dry_run: bool = False, client: ClusterClient | None = None) -> Any:
        """One full sync, between two journal passes; answers the cluster's report."""
        with self._send_lock:
            report = full_sync.full_sync(client or self._client_factory(), _admin(),
                                         dry_run=dry_run)
        self.last_sync_report = report
        LOG.info('midonet-ryu full sync: %s',
                 full_sync.format_report(report, dry_run).replace('\n', '; '))
        return report

    def _start_threads(self, port_status: bool, periodic_sync: bool) -> None:
        if self.running:
            return
        self._stop = threading.Event()
        engine = db_api.get_context_manager().writer.get_engine()
        if SharedConnectionGuard.needed(engine):
            self._guard = SharedConnectionGuard(engine)
            self._guard.install()
        loops: list[tuple[str, Callable[[], None]]] = [('journal', self._journal_loop)]
        if port_status:
            loops.append(('status', self._status_loop))
        if periodic_sync and self.opts.sync_interval > 0:
            loops.append(('sync', self._sync_loop))
        self._threads = [threading.Thread(target=self._run, args=(loop,), daemon=True,
                                          name=f'midonet-ryu-{name}')
                         for name, loop in loops]
        for thread in self._threads:
            thread.start()

    def _run(self, loop: Callable[[], None]) -> None:
        if self._guard is not None:
            self._guard.mark_background()
        loop()

    def _journal_loop(self) -> None:
        backoff = self._backoff()
        sender = JournalSender(self._store, cluster_transport(self._client_factory()),
                               backoff, stop=self._stop)
        next_purge = time.monotonic() + _PURGE_EVERY
        while not self._stop.is_set():
            _WAKE.clear()
            try:
                with self._send_lock:
                    delay = sender.process(_admin())
            except Exception:
                LOG.exception('midonet-ryu journal pass failed')
                delay = backoff.failure()
            if delay:
                self._stop.wait(delay)
                continue
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + _PURGE_EVERY
                self._purge()
            _WAKE.wait(self.opts.journal_poll_interval)

    def _purge(self) -> None:
        try:
            removed = self._store.purge_done(_admin(), self.opts.journal_keep_done,
                                             self.opts.journal_done_max_age)
        except Exception:
            LOG.exception('midonet-ryu journal purge failed')
            return
        if removed:
            LOG.debug('midonet-ryu journal: %d done rows purged', removed)

    def _status_loop(self) -> None:
        client = self._client_factory()
        feed = status.PortStatusFeed()
        applier = status.PortStatusApplier()
        backoff = self._backoff()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = client.port_status(feed.cursor, self.opts.status_timeout)
                if self._stop.is_set():
                    return
                changes = feed.apply(answer)
            except (Unavailable, Refused, ValueError) as exc:
                LOG.info('midonet-ryu port status: %s', exc)
                self._stop.wait(backoff.failure())
                continue
            backoff.success()
            try:
                context = _admin()
                applier.apply(context, changes)
                applier.complete_blocked(context, feed.active)
            except Exception:
                LOG.exception('midonet-ryu port status: applying %s failed', changes)
                feed.cursor = None  # the next answer is a reset: everything again
                self._stop.wait(backoff.failure())
                continue
            idle = self.status_idle_pause - (time.monotonic() - started)
            if changes.empty and idle > 0:
                self._stop.wait(idle)

    def _sync_loop(self) -> None:
        client = self._client_factory()
        while not self._stop.wait(self.opts.sync_interval):
            try:
                self.sync_now(client=client)
            except Exception as exc:
                LOG.warning('midonet-ryu periodic full sync failed: %s', exc)
