"""The journal table on Neutron's test database."""

from __future__ import annotations

import datetime
import json

from neutron.tests.unit import testlib_api
from neutron_lib import context as n_context
from neutron_lib.db import api as db_api

from networking_midonet_ryu.db import journal, models


def admin() -> n_context.Context:
    return n_context.get_admin_context()


class TestJournalTable(testlib_api.SqlTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.store = journal.DbJournalStore()

    def test_rows_of_a_transaction_commit_or_roll_back_with_it(self) -> None:
        ctx = admin()
        with db_api.CONTEXT_WRITER.using(ctx):
            journal.record(ctx, 'networks', 'n1', models.UPSERT, {'id': 'n1'})
            journal.record(ctx, 'subnets', 's1', models.UPSERT, {'id': 's1'})
        try:
            with db_api.CONTEXT_WRITER.using(ctx):
                journal.record(ctx, 'networks', 'n2', models.UPSERT, {'id': 'n2'})
                raise RuntimeError('rolled back')
        except RuntimeError:
            pass
        rows = self.store.pending(admin(), 10)
        self.assertEqual([('networks', 'n1'), ('subnets', 's1')],
                         [(r.resource, r.resource_id) for r in rows])
        self.assertEqual({'id': 'n1'}, json.loads(rows[0].data))

    def test_consecutive_upserts_of_one_resource_in_a_transaction_merge(self) -> None:
        ctx = admin()
        with db_api.CONTEXT_WRITER.using(ctx):
            journal.record(ctx, 'security_groups', 'g1', models.UPSERT, {'rules': [1]})
            journal.record(ctx, 'security_groups', 'g1', models.UPSERT, {'rules': [1, 2]})
            journal.record(ctx, 'ports', 'p1', models.UPSERT, {})
            journal.record(ctx, 'security_groups', 'g1', models.UPSERT, {'rules': [1, 2, 3]})
            journal.record(ctx, 'security_groups', 'g1', models.DELETE)
        with db_api.CONTEXT_WRITER.using(ctx):
            journal.record(ctx, 'security_groups', 'g1', models.UPSERT, {'rules': []})
        rows = self.store.pending(admin(), 10)
        self.assertEqual(
            [('security_groups', models.UPSERT, '{"rules": [1, 2]}'),
             ('ports', models.UPSERT, '{}'),
             ('security_groups', models.UPSERT, '{"rules": [1, 2, 3]}'),
             ('security_groups', models.DELETE, None),
             ('security_groups', models.UPSERT, '{"rules": []}')],
            [(r.resource, r.operation, r.data) for r in rows])

    def test_marks_and_counts(self) -> None:
        ctx = admin()
        for i in range(3):
            journal.record(ctx, 'ports', f'p{i}', models.UPSERT, {})
        first, second, third = self.store.pending(ctx, 10)
        self.store.mark_done(ctx, first)
        self.store.mark_failed(ctx, second, 'refused')
        self.store.mark_retry(ctx, third, 'down')
        self.assertEqual([third.id], [r.id for r in self.store.pending(ctx, 10)])
        self.assertEqual(1, self.store.count_pending(ctx))
        failed, = self.store.failed(ctx)
        self.assertEqual((second.id, 'refused', 1), (failed.id, failed.last_error,
                                                     failed.attempts))
        self.assertEqual(1, self.store.pending(ctx, 10)[0].attempts)

    def test_purge_keeps_the_newest_done_rows_and_every_failed_one(self) -> None:
        ctx = admin()
        for i in range(6):
            journal.record(ctx, 'ports', f'p{i}', models.UPSERT, {})
        rows = self.store.pending(ctx, 10)
        self.store.mark_failed(ctx, rows[0], 'refused')
        for row in rows[1:]:
            self.store.mark_done(ctx, row)

        def age(row: journal.Entry) -> None:
            with db_api.CONTEXT_WRITER.using(ctx):
                ctx.session.query(models.MidonetRyuJournal).filter(
                    models.MidonetRyuJournal.id == row.id).update(
                        {'updated_at': datetime.datetime(2000, 1, 1)})

        age(rows[0])  # old and failed: stays for the operator
        self.assertEqual(2, self.store.purge_done(ctx, keep=3, max_age=3600))
        self.assertEqual(0, self.store.purge_done(ctx, keep=3, max_age=3600))
        age(rows[3])  # old and done: goes, though among the newest three
        self.assertEqual(1, self.store.purge_done(ctx, keep=3, max_age=3600))
        with db_api.CONTEXT_READER.using(ctx):
            left = [(r.id, r.state) for r in ctx.session.query(models.MidonetRyuJournal)
                    .order_by(models.MidonetRyuJournal.id)]
        self.assertEqual([(rows[0].id, models.FAILED), (rows[4].id, models.DONE),
                          (rows[5].id, models.DONE)], left)
