"""The agent app stays loadable by ``osken-manager`` (os-ken 3.1.x, which
still ships it), with the same configuration file as ``midonet-agent``.

Runs when an os-ken 3 environment is given: ``MIDONET_OSKEN3_PYTHON`` names
its interpreter (tools/run-tests builds one), or the current one has
``osken-manager``. The test is skipped, not passed, otherwise.
"""
import os
import shutil
import sys
import uuid

import pytest

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Host
from tools.lab.agent import AgentProcess
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def _osken_manager() -> list[str] | None:
    python = os.environ.get("MIDONET_OSKEN3_PYTHON")
    if python:
        return [python, "-c", "import sys; from os_ken.cmd.manager import main; sys.exit(main())"]
    found = shutil.which("osken-manager", path=os.path.dirname(sys.executable))
    return [found] if found else None


def test_agent_runs_under_osken_manager(zookeeper, ovs_host, tmp_path_factory, zk_client):
    command = _osken_manager()
    if command is None:
        pytest.skip("no os-ken 3 environment (set MIDONET_OSKEN3_PYTHON)")
    workdir = str(tmp_path_factory.mktemp("osken3"))
    root = f"/osken3-{uuid.uuid4().hex[:8]}"
    agent = AgentProcess(workdir, zookeeper.hosts, ovs_host.ovsdb_connection, "192.0.2.1",
                         root_key=root, command=command)
    agent.command = command + ["--ofp-tcp-listen-port", str(agent.of_port), "apps.agent"]
    agent.start()
    try:
        agent.wait_log("integration bridge connected", 30)
        agent.wait_log("agent ready", 30)
        store = Store(zk_client, Paths(root))
        wait_until(lambda: store.find(Host, agent.host_id) is not None, 10, what="host")
        keys = StateKeys(zk_client, Paths(root), uuid.uuid4())
        assert keys.get("Host", agent.host_id, "alive", namespace=agent.host_id) is not None
        assert any("table=1" in f and "CONTROLLER" in f for f in ovs_host.dump_flows())
    finally:
        assert agent.stop() is not None
