"""pytest fixtures of the lab: ZooKeeper, wired Open vSwitch hosts, a tidy check.

Use from a conftest.py with ``from tools.lab.fixtures import *  # noqa``
(pytest accepts ``pytest_plugins`` only in the rootdir conftest).

- ``zookeeper``: one private ZooKeeper per test module (starting a JVM costs
  ~0.4 s, so it is shared; tests use their own znode paths).
- ``ovs_hosts``: a factory, ``ovs_hosts(n=2)`` -> n OvsInstance (hv1..hvN)
  already wired by an Underlay; all stopped at the end of the test.
- ``ovs_host``: one instance (hv1) with br-int, for single-host tests.
- ``netns_lab``: a factory, ``netns_lab(n=2)`` -> a started NetnsLab
  (hypervisors in network namespaces, VMs with a kernel stack); skips the
  test when not root or ``ip netns`` does not work.
- ``lab_tidy``: session-wide, autouse: at the end every process the lab
  started must be gone; leftovers are ended by PID and reported as an error.

Directories live under ``$MR_LAB_TMP`` (default /tmp) with short names,
because unix socket paths are limited to 107 bytes and pytest's tmp_path is
long. They are removed after a passing test and kept (path printed) after a
failing one, or always with ``MR_LAB_KEEP=1``, so the OVS logs can be read.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest

from tools.lab.netns import NetnsLab, leftover_netns, netns_unavailable
from tools.lab.ovs import (
    OvsInstance,
    forget_pid,
    leftover_pids,
    register_pid,
    start_hosts,
    stop_hosts,
)
from tools.lab.procs import end_pid, pid_alive
from tools.lab.zookeeper import TemporaryZooKeeper

__all__ = ["lab_tidy", "lab_tmpdir", "netns_lab", "ovs_host", "ovs_hosts", "zookeeper"]


def lab_tmpdir(prefix: str) -> str:
    """A fresh short directory for sockets and logs of one test."""
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("MR_LAB_TMP", "/tmp"))


def _assert_gone(pids: list[int], what: str) -> None:
    alive = [p for p in pids if pid_alive(p)]
    for pid in alive:
        end_pid(pid)
    assert not alive, f"{what}: processes still alive after teardown: {alive}"


def _finish_dir(request: pytest.FixtureRequest, path: str, failed_before: int) -> None:
    failed = request.session.testsfailed > failed_before
    if failed or os.environ.get("MR_LAB_KEEP"):
        print(f"lab: kept {path} (logs of the failed test)")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def lab_tidy() -> Iterator[None]:
    """Nothing the lab started may outlive the session."""
    yield
    left = leftover_pids()
    for pid in left:
        end_pid(pid)
        forget_pid(pid)
    namespaces = leftover_netns() if not netns_unavailable() else set()
    assert not left, f"lab processes left running at the end of the session: {left}"
    assert not namespaces, f"lab namespaces left at the end of the session: {namespaces}"


@pytest.fixture(scope="module")
def zookeeper() -> Iterator[TemporaryZooKeeper]:
    """A private standalone ZooKeeper on 127.0.0.1, shared by one test module."""
    zk = TemporaryZooKeeper()
    zk.start()
    assert zk.pid
    register_pid(zk.pid, "zookeeper")
    try:
        yield zk
    finally:
        pid = zk.pid
        zk.stop()
        forget_pid(pid)
        _assert_gone([pid], "zookeeper")


@pytest.fixture
def ovs_hosts(request: pytest.FixtureRequest) -> Iterator[Callable[..., list[OvsInstance]]]:
    """Factory: ``ovs_hosts(n=2, subnet="192.0.2.0/24", bridges=("br-int",))``.

    Each call starts a new group of wired instances (named hv1..hvN; a second
    call in the same test uses its own directory). Everything is stopped by
    PID when the test ends, and the test errors if a daemon survives.
    """
    basedir = lab_tmpdir("mr-ovs-")
    failed_before = request.session.testsfailed
    started: list[OvsInstance] = []
    groups = 0

    def make(n: int = 2, subnet: str = "192.0.2.0/24",
             bridges: tuple[str, ...] = ("br-int",), prefix: str = "hv") -> list[OvsInstance]:
        nonlocal groups
        groups += 1
        where = basedir if groups == 1 else os.path.join(basedir, f"g{groups}")
        hosts = start_hosts(n, where, subnet=subnet, prefix=prefix, bridges=bridges)
        started.extend(hosts)
        return hosts

    try:
        yield make
    finally:
        pids = [p for inst in started for p in inst.pids]
        stop_hosts(started)
        _assert_gone(pids, "ovs_hosts")
        _finish_dir(request, basedir, failed_before)


@pytest.fixture
def ovs_host(ovs_hosts: Callable[..., list[OvsInstance]]) -> OvsInstance:
    """One started instance (hv1) with br-int and a br-phy at 192.0.2.1."""
    return ovs_hosts(1)[0]


@pytest.fixture
def netns_lab(request: pytest.FixtureRequest) -> Iterator[Callable[..., NetnsLab]]:
    """Factory: ``netns_lab(n=2, subnet="192.0.2.0/24")`` -> a started NetnsLab.

    Skips (with the reason) where namespaces cannot be made. Stops every lab
    at the end and errors if a daemon or a namespace it made survives.
    """
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    basedir = lab_tmpdir("mr-ns-")
    failed_before = request.session.testsfailed
    labs: list[NetnsLab] = []

    def make(n: int = 2, subnet: str = "192.0.2.0/24") -> NetnsLab:
        lab = NetnsLab(os.path.join(basedir, f"lab{len(labs) + 1}"), n, subnet)
        labs.append(lab)
        return lab.start()

    try:
        yield make
    finally:
        pids = [p for lab in labs for h in lab.hosts for p in h.pids]
        namespaces = {ns for lab in labs for h in lab.hosts for ns in
                      [h.netns, *(vm.netns for vm in h.vms.values())] if ns}
        for lab in labs:
            lab.stop()
        _assert_gone(pids, "netns_lab")
        left = namespaces & leftover_netns()
        assert not left, f"netns_lab: namespaces left after teardown: {left}"
        _finish_dir(request, basedir, failed_before)
