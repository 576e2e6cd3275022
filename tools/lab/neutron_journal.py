"""The lab's handle on Neutron's journal worker (networking-midonet-ryu), run
in the test's own process as Neutron would run it in a process of its own.
Only Neutron's venv can import this."""
from __future__ import annotations

from typing import Any


def register_options() -> None:
    """Our options, and our journal table among the models Neutron's test
    database is created from (it is made before the driver is loaded)."""
    from networking_midonet_ryu import conf
    from networking_midonet_ryu.db import models  # noqa: F401

    conf.register_opts()


def start_worker(port_status: bool = True) -> Any:
    from networking_midonet_ryu.journal.worker import JournalWorker

    worker = JournalWorker()
    worker.start_in_process(port_status=port_status, periodic_sync=False)
    return worker


def stop_worker(worker: Any) -> None:
    worker.stop()


def drain(neutron: Any, timeout: float = 20.0) -> None:
    """Wait until every journal row has been sent (done or failed)."""
    neutron.worker.drain(timeout)


def failed_entries(neutron: Any) -> list[Any]:
    from networking_midonet_ryu.db.journal import DbJournalStore

    return list(DbJournalStore().failed(neutron.context))


def full_sync(neutron: Any, dry_run: bool = False) -> Any:
    return neutron.worker.sync_now(dry_run=dry_run)
