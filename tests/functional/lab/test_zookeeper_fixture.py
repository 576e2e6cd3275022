"""The module-scoped ZooKeeper fixture serves and is registered for the tidy check."""
from __future__ import annotations

import pytest

from tools.lab.ovs import LAB_PIDS

pytestmark = pytest.mark.functional


def test_zookeeper_fixture_serves(zookeeper):
    assert zookeeper.serving()
    assert zookeeper.pid in LAB_PIDS
    assert zookeeper.hosts.startswith("127.0.0.1:")
