"""Neutron's own unit-test classes, inherited, with our mechanism driver and
L3 plugin loaded and a real cluster and ZooKeeper behind them.

:class:`MidonetRyuCase` goes first among a test class's bases. Around each
of Neutron's tests it

- before Neutron's setUp: registers our options and our journal table,
  points ``[midonet_ryu]`` at the session's cluster as its admin, and makes
  ``midonet_ryu`` ML2's only mechanism driver (``port_security`` its
  extension driver, where the class does not choose its own);
- after Neutron's setUp: starts the journal worker in this process and runs
  a real full sync of the still empty Neutron, so that the test starts from
  an NSDB without any Neutron resource (Neutron's test database is emptied
  between tests by SQL, which journals nothing);
- after the test's body, before Neutron drops its database: waits until
  every journal row was sent, asserts none failed, and asserts that a
  dry-run full sync would create, update and delete nothing: the NSDB holds
  exactly the translation of what Neutron holds. (Whether that translation
  is right is for the translation's own tests: one wrong alike when a
  resource is sent and when it is synced passes here.)

One ZooKeeper and one cluster serve the whole session (a lazy singleton,
stopped at exit): Neutron's classes are unittest classes, which pytest's
fixtures do not reach.

Each module lists in ``SKIPS`` (``{test name or "Class.test name": reason}``)
the tests that cannot apply, with the reason, and in ``KEEP`` the tests that
run within the suites' time budget (the 676 that apply take some 15 minutes
here; CI runs 106 on two workers in under 2); :func:`apply_skips` skips
both with their reasons and refuses names that are no inherited test.
``MIDONET_INHERITED_ALL=1`` runs every test that applies.

Two things make Neutron's test base fit: Neutron's policy defaults are
registered once per attribute map instead of deep-copied twice a test
(:class:`_PolicyDefaults`, half of each test's time otherwise), and a
connection returned to the test database's pool is rolled back only by the
thread whose transaction it is
(:meth:`MidonetRyuCase._midonet_reset_only_own_transactions`).
"""
from __future__ import annotations

import atexit
import functools
import os
import re
import threading
import types
import unittest
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from oslo_config import cfg

from tools.lab import neutron_journal as journal
from tools.lab.cluster import LAB_USERS, ClusterProcess
from tools.lab.zookeeper import TemporaryZooKeeper

MECHANISM_DRIVER = "midonet_ryu"
L3_PLUGIN = "networking_midonet_ryu.l3.plugin.MidonetRyuL3Plugin"
ADMIN = "admin"
DRAIN_TIMEOUT = 30.0
REPORT_KEYS = ("created", "updated", "deleted", "failed")

# Reasons shared by the modules (each entry of SKIPS says which one applies
# and, after it, what exactly the test asserts).
IPV6 = ("creates an IPv6 subnet, which the midonet_ryu driver refuses by design "
        "(doc/neutron.md, Limits)")
OTHER_DRIVER = "asserts the behaviour of another mechanism driver or agent"
MOCKS_INTERNALS = "mocks the Neutron internals our driver or L3 plugin journal through"
BYPASS = ("writes Neutron's database directly, past the plugins, so the change is never "
          "journaled")
SQLITE = ("simulates a concurrent request by running one inside another's transaction; "
          "on the unit tests' single shared SQLite connection the inner request's COMMIT "
          "or ROLLBACK ends the outer transaction too, so the outer change's journal row "
          "outlives its rollback or is lost with the inner one (a real database gives "
          "each session its own connection and transaction)")
NOT_US = ("fails the same with ML2's 'test' driver and Neutron's own L3 database mixins, "
          "nothing of midonet-ryu loaded")
BUDGET = "cut to keep the inherited suites within their time budget"


def each(reason: str, names: str) -> dict[str, str]:
    """``{name: reason}`` for each of the whitespace-separated ``names``."""
    return dict.fromkeys(names.split(), reason)


# -- the session's ZooKeeper and cluster ------------------------------------------
class _Lab:
    def __init__(self) -> None:
        self.zookeeper: TemporaryZooKeeper | None = None
        self.cluster: ClusterProcess | None = None
        self.client: Any = None
        self.zk: Any = None
        self.hosts: set[str] = set()
        self.lock = threading.Lock()

    def get(self) -> ClusterProcess:
        with self.lock:
            if self.cluster is None:
                zookeeper = TemporaryZooKeeper().start()
                try:
                    cluster = ClusterProcess(
                        zookeeper.hosts, root=f"/inherited-{uuid.uuid4().hex[:12]}").start()
                except BaseException:
                    zookeeper.stop()
                    raise
                self.zookeeper, self.cluster = zookeeper, cluster
                atexit.register(self.stop)
            return self.cluster

    def agent_hosts(self, names: Iterable[str]) -> None:
        """Register hosts as a midonet-ryu agent does, so that the driver binds
        ports to them (once per name and session)."""
        from kazoo.client import KazooClient

        from midonet_ryu.nsdb.hosts import register_host
        from midonet_ryu.nsdb.paths import Paths
        from midonet_ryu.nsdb.state_keys import StateKeys
        from midonet_ryu.nsdb.store import Store

        with self.lock:
            assert self.zookeeper is not None and self.cluster is not None
            for name in names:
                if name in self.hosts:
                    continue
                if self.zk is None:
                    self.zk = KazooClient(hosts=self.zookeeper.hosts, timeout=10)
                    self.zk.start(timeout=15)
                paths = Paths(self.cluster.root)
                host_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.inherited.midonet-ryu")
                register_host(Store(self.zk, paths), StateKeys(self.zk, paths, host_id),
                              host_id, name)
                self.hosts.add(name)

    def stop(self) -> None:
        with self.lock:
            if self.zk is not None:
                self.zk.stop()
                self.zk.close()
                self.zk = None
            if self.cluster is not None:
                self.cluster.cleanup()
                self.cluster = None
            if self.zookeeper is not None:
                self.zookeeper.stop()
                self.zookeeper = None
            self.client = None

    def sync_client(self) -> Any:
        """One client for every test's syncs: it logs in once per session."""
        from networking_midonet_ryu.client import ClusterClient

        with self.lock:
            if self.client is None:
                assert self.cluster is not None
                self.client = ClusterClient(self.cluster.api_url, ADMIN, LAB_USERS[ADMIN][0],
                                            timeout=30.0)
            return self.client


LAB = _Lab()


def cluster() -> ClusterProcess:
    """The session's cluster, started (with its ZooKeeper) on first use."""
    return LAB.get()


# -- Neutron's policy defaults, registered once per attribute map ----------------
def _function_name(func: Any) -> Any:
    """A converter by name: extension modules are loaded anew for each test."""
    if isinstance(func, functools.partial):
        return (_function_name(func.func), repr(func.args), repr(sorted(func.keywords.items())))
    return (getattr(func, "__module__", None), getattr(func, "__qualname__", repr(func)))


class _PolicyDefaults:
    """``neutron.policy.register_rules`` without its cost on every test.

    Neutron builds a new policy enforcer at least twice a test, and each
    time oslo.policy deep-copies its ~1400 rule defaults, which rebuilds
    every owner and field check (each owner check configuring a cache region
    of its own); the test base also reloads every policy module so that
    field checks see the attributes extensions added. On this machine that is
    more than a second of each test, more than most tests themselves.

    What those copies depend on is the attribute map (a field check converts
    its value with the attribute's ``convert_to``); so the copies made for
    one state of the map serve every later enforcer made in that state, and
    the reload, whose only effect is that re-parse, is not needed. Each
    enforcer still gets a dict of its own, and the owner checks' memo caches
    are emptied, as new ones would be.
    """

    def __init__(self) -> None:
        self.by_state: dict[frozenset, tuple[dict[str, Any], list[Any]]] = {}
        self.original: Any = None

    @staticmethod
    def _state() -> frozenset:
        from neutron_lib.api import attributes

        return frozenset((resource, field, _function_name(attr["convert_to"]))
                         for resource, attrs in attributes.RESOURCES.items()
                         for field, attr in attrs.items() if "convert_to" in attr)

    @staticmethod
    def _owner_checks(defaults: Iterable[Any]) -> list[Any]:
        from neutron import policy

        found: list[Any] = []
        stack = [check for default in defaults
                 for check in (default.check,
                               getattr(default.deprecated_rule, "check", None))]
        while stack:
            check = stack.pop()
            if isinstance(check, policy.OwnerCheck):
                found.append(check)
            stack.extend(getattr(check, "rules", ()))
            if getattr(check, "rule", None) is not None:
                stack.append(check.rule)
        return found

    def register(self, enforcer: Any) -> None:
        state = self._state()
        cached = self.by_state.get(state)
        if cached is None:
            self.original(enforcer)
            rules = dict(enforcer.registered_rules)
            self.by_state[state] = (rules, self._owner_checks(rules.values()))
            return
        rules, owner_checks = cached
        for check in owner_checks:
            if getattr(check, "_cache", None):
                check._cache.invalidate()
        enforcer.registered_rules.update(rules)

    def patches(self) -> list[Any]:
        from unittest import mock

        from neutron import policy
        from neutron.conf import policies

        if self.original is None:
            self.original = policy.register_rules
        return [mock.patch.object(policy, "register_rules", self.register),
                mock.patch.object(policies, "reload_default_policies", lambda: None)]


POLICY_DEFAULTS = _PolicyDefaults()


# -- skips ---------------------------------------------------------------------------
RUN_ALL = "MIDONET_INHERITED_ALL"  # set to 1: no test is cut for time
WHOLE = "*"  # in KEEP: the whole class runs

_CUT_WHY = (
    (r"_returns?_(400|403|404|409)$|invalid|_bad_|wrong|_no_data|not_existing|"
     r"non_existent|not_external|_dup_|overlapped|not_allowed|forbidden|too_many|"
     r"too_long|too_big|_exhausted|out_of_|outside_|greater|non_uuid|boolean|"
     r"inconsistent|unsupported|_fail$|_conflict",
     "Neutron refuses the request under test: its validation, nothing new journaled"),
    (r"list|show|_get_|pagination|sort|count|_fields|filter",
     "reads only: lists, shows, sorts or pages what the kept tests create"),
    (r"quota|notif|non_?admin|other_project|project_ctx|unowned|rbac|shared|"
     r"_as_admin|admin_project|owner",
     "quotas, policy or notifications: Neutron's own, the journal sees what other "
     "tests send"),
)


def _why_cut(name: str) -> str:
    for pattern, why in _CUT_WHY:
        if re.search(pattern, name):
            return why
    return "the same resources and changes as kept tests"


def _tests(cls: type) -> set[str]:
    return {name for name in dir(cls) if name.startswith("test")
            and callable(getattr(cls, name))}


def apply_skips(skips: dict[str, str], classes: Iterable[type],
                keep: Mapping[str, str]) -> None:
    """Skip, with their reasons, the tests ``skips`` names (``name`` or
    ``Class.name``), and, unless MIDONET_INHERITED_ALL=1, every test of a
    class not named in its ``keep`` entry (``WHOLE``: all run); the cut
    tests join ``skips`` so that the module lists every skip in one place.
    Entries naming no inherited test are refused."""
    classes = list(classes)
    by_name = {cls.__name__: cls for cls in classes}
    for key in list(skips) + [f"{c}.{n}" for c, names in keep.items() if names != WHOLE
                              for n in names.split()]:
        owner, _, name = key.rpartition(".")
        owners = [by_name[owner]] if owner in by_name else [] if owner else classes
        if not any(name in _tests(cls) for cls in owners):
            raise AssertionError(f"{key} names no inherited test of {sorted(by_name)}")
    missing = set(by_name) - set(keep)
    if missing:
        raise AssertionError(f"KEEP says nothing of {sorted(missing)}")
    run_all = os.environ.get(RUN_ALL) == "1"
    for cls in classes:
        own = {}
        for key, reason in skips.items():
            owner, _, name = key.rpartition(".")
            if owner in ("", cls.__name__) and name in _tests(cls):
                own[name] = reason
        kept = keep[cls.__name__]
        if kept != WHOLE and not run_all:
            chosen = set(kept.split())
            for name in sorted(_tests(cls) - chosen - set(own)):
                reason = f"{BUDGET} ({RUN_ALL}=1 runs it): {_why_cut(name)}"
                skips[f"{cls.__name__}.{name}"] = own[name] = reason
        for name, reason in own.items():
            setattr(cls, name, unittest.skip(reason)(getattr(cls, name)))


# -- the mixin -------------------------------------------------------------------------
class MidonetRyuCase:
    """First base of an inherited Neutron test class (see the module's doc)."""

    # what Ml2PluginV2TestCase's setUp configures
    _mechanism_drivers: ClassVar[list[str]] = [MECHANISM_DRIVER]
    l3_plugin: ClassVar[str] = L3_PLUGIN
    # Classes whose setUp sets [ml2] extension_drivers themselves say False.
    SET_EXTENSION_DRIVERS: ClassVar[bool] = True
    # Hosts a midonet-ryu agent runs on, as far as the cluster knows: the
    # driver binds ports to those (vif_type ovs) and to no other.
    AGENT_HOSTS: ClassVar[tuple[str, ...]] = ()

    def setUp(self, *args: Any, **kwargs: Any) -> None:
        self._midonet_configure()
        super().setUp(*args, **kwargs)  # type: ignore[misc]
        self._midonet_start()

    # before Neutron's setUp
    def _midonet_configure(self) -> None:
        url = cluster().api_url
        LAB.agent_hosts(self.AGENT_HOSTS)
        for patch in POLICY_DEFAULTS.patches():
            patch.start()
            self.addCleanup(patch.stop)  # type: ignore[attr-defined]
        journal.register_options()
        for name, value in {"cluster_url": url, "username": ADMIN,
                            "password": LAB_USERS[ADMIN][0], "retry_interval": 0.05,
                            "max_retry_interval": 0.5, "sync_interval": 0,
                            "hosts_cache_time": 0.5}.items():
            cfg.CONF.set_override(name, value, group="midonet_ryu")
        cfg.CONF.set_override("mechanism_drivers", [MECHANISM_DRIVER], group="ml2")
        if self.SET_EXTENSION_DRIVERS:
            cfg.CONF.set_override("extension_drivers", ["port_security"], group="ml2")

    # after Neutron's setUp
    def _midonet_start(self) -> None:
        from neutron_lib import context

        # No port status feed: no agent binds anything here, and its long
        # poll would hold each test's stop for seconds.
        worker = journal.start_worker(port_status=False)
        self.midonet = types.SimpleNamespace(worker=worker,
                                             context=context.get_admin_context())
        self._midonet_reset_only_own_transactions(worker)
        # Cleanups run last in, first out: the check runs before the worker
        # stops, and both before Neutron's own cleanups drop its database.
        self.addCleanup(journal.stop_worker, worker)  # type: ignore[attr-defined]
        self.addCleanup(self._midonet_check)  # type: ignore[attr-defined]
        # A real full sync of an empty Neutron: the cluster deletes every
        # Neutron resource it still holds (Neutron's database is empty here).
        report = LAB.sync_client().sync({})
        failed = report.get("failed")
        assert not failed, f"emptying the NSDB's Neutron view failed: {failed}"

    def _midonet_reset_only_own_transactions(self, worker: Any) -> None:
        """A connection going back to Neutron's test pool is rolled back only
        when no other thread is inside a transaction on it.

        Every thread shares the test database's one SQLite connection (a
        StaticPool), and networking_midonet_ryu's SharedConnectionGuard lets
        one thread at a time between BEGIN and COMMIT. But SQLAlchemy also
        rolls a connection back when a session that already committed is
        closed, outside that bracket: when the journal thread does so while
        the test's thread is inside a transaction, the ROLLBACK ends the
        test's transaction (its writes lost, or "cannot rollback - no
        transaction is active", after which the pool drops the connection and
        with it the in-memory database, and every later test fails). Here the
        pool's own reset is off and a reset listener rolls back under the
        guard's lock, skipping the rollback when another thread holds it.
        Without a guard (a real database) nothing changes.
        """
        from neutron_lib.db import api as db_api
        from sqlalchemy import event
        from sqlalchemy.pool import base as pool_base

        guard = getattr(worker, "_guard", None)
        lock = getattr(guard, "_lock", None)
        if lock is None:
            return
        engine = db_api.get_context_manager().writer.get_engine()
        pool = engine.pool
        before = pool._reset_on_return

        def reset(dbapi_connection: Any, record: Any, state: Any) -> None:
            if state.transaction_was_reset or not state.asyncio_safe:
                return
            if lock.acquire(blocking=False):  # re-entrant: our own transaction
                try:
                    engine.dialect.do_rollback(dbapi_connection)
                finally:
                    lock.release()

        def restore() -> None:
            event.remove(pool, "reset", reset)
            pool._reset_on_return = before

        event.listen(pool, "reset", reset)
        pool._reset_on_return = pool_base.reset_none
        self.addCleanup(restore)  # type: ignore[attr-defined]

    def _midonet_check(self) -> None:
        worker = self.midonet.worker
        worker.drain(DRAIN_TIMEOUT)
        failed = journal.failed_entries(self.midonet)
        assert not failed, "journal rows the cluster refused: " + "; ".join(
            f"{e.operation} {e.resource}/{e.resource_id}: {e.last_error}" for e in failed)
        report = worker.sync_now(dry_run=True, client=LAB.sync_client())
        drift = {key: report.get(key) for key in REPORT_KEYS if report.get(key)}
        assert not drift, f"the NSDB differs from the translation of Neutron's resources: {drift}"
