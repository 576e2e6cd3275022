"""Fixtures of the tests that drive Neutron's plugin in process (Neutron's
venv): the session's ZooKeeper, and the lab's daemons run from the project's
own venv (``MIDONET_LAB_PYTHON``), since the core's dependencies are not
installed here."""
from __future__ import annotations

import os
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PROJECT_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
if os.path.exists(_PROJECT_PYTHON):
    os.environ.setdefault("MIDONET_LAB_PYTHON", _PROJECT_PYTHON)

from tools.lab.fixtures import *  # noqa: E402,F401,F403 - the lab's fixtures (lab_tidy, ...)
from tools.lab.zookeeper import TemporaryZooKeeper  # noqa: E402


@pytest.fixture(scope="session")
def zk_server():
    server = TemporaryZooKeeper().start()
    yield server
    server.stop()


@pytest.fixture
def zk_root() -> str:
    return f"/neutron-{uuid.uuid4().hex[:12]}"
