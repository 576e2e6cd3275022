"""The shared-connection guard on Neutron's test database (one SQLite connection)."""

from __future__ import annotations

import threading

from neutron.tests.unit import testlib_api
from neutron_lib import context as n_context
from neutron_lib.db import api as db_api

from networking_midonet_ryu.db import journal, models
from networking_midonet_ryu.journal.dbguard import SharedConnectionGuard


def admin() -> n_context.Context:
    return n_context.get_admin_context()


class TestSharedConnectionGuard(testlib_api.SqlTestCase):
    """A worker thread next to the test's thread on the one SQLite connection."""

    def test_a_background_thread_never_sees_or_commits_an_open_transaction(self) -> None:
        engine = db_api.get_context_manager().writer.get_engine()
        self.assertTrue(SharedConnectionGuard.needed(engine))
        guard = SharedConnectionGuard(engine)
        guard.install()
        self.addCleanup(guard.remove)
        store = journal.DbJournalStore()
        errors: list[str] = []
        seen: list[int] = []
        stop = threading.Event()

        def background() -> None:
            guard.mark_background()
            while not stop.is_set():
                try:
                    seen.append(len(store.pending(admin(), 1000)))
                except Exception as exc:  # any error is a failure of the guard
                    errors.append(repr(exc))

        thread = threading.Thread(target=background)
        thread.start()
        try:
            for i in range(150):
                ctx = admin()
                try:
                    with db_api.CONTEXT_WRITER.using(ctx):
                        journal.record(ctx, 'ports', f'p{i}', models.UPSERT, {})
                        journal.record(ctx, 'ports', f'q{i}', models.UPSERT, {})
                        if i % 3 == 0:
                            raise RuntimeError('rolled back')
                except RuntimeError:
                    pass
        finally:
            stop.set()
            thread.join(10)
        self.assertEqual([], errors)
        self.assertEqual(200, store.count_pending(admin()))
        # Never half a transaction, never a rolled back one.
        self.assertTrue(all(count % 2 == 0 for count in seen))
        self.assertLessEqual(max(seen), 200)
