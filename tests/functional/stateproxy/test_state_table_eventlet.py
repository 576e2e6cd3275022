"""The direct state table under eventlet, as the cluster and an eventlet agent run it."""
import subprocess
import sys
import textwrap

import pytest
from sp_helpers import ROOT

pytestmark = pytest.mark.functional

SCRIPT = textwrap.dedent("""
    import warnings
    warnings.simplefilter("ignore")
    import eventlet
    eventlet.monkey_patch()
    import sys, uuid
    from kazoo.client import KazooClient
    from kazoo.handlers.eventlet import SequentialEventletHandler
    from kazoo.retry import KazooRetry
    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
    from midonet_ryu.nsdb.state_table import StateTable

    def client():
        h = SequentialEventletHandler()
        c = KazooClient(hosts=sys.argv[1], handler=h,
                        connection_retry=KazooRetry(max_tries=-1, sleep_func=h.sleep_func),
                        command_retry=KazooRetry(max_tries=3, sleep_func=h.sleep_func))
        c.start(timeout=10)
        return c

    net, port = uuid.uuid4(), uuid.uuid4()
    reader = StateTable(client(), Paths(sys.argv[2]), MAC_TABLE, net, ("0",)).start()
    seen = []
    reader.add_callback(lambda k, o, n: seen.append((k, n)))
    writer = StateTable(client(), Paths(sys.argv[2]), MAC_TABLE, net, ("0",))
    writer.add("aa:bb:cc:00:00:01", port)
    for _ in range(200):
        if reader.get("aa:bb:cc:00:00:01") == port:
            break
        eventlet.sleep(0.02)
    assert seen == [("aa:bb:cc:00:00:01", port)], seen
    print("OK")
""")


def test_direct_table_works_with_the_eventlet_handler(zookeeper, paths):
    out = subprocess.run([sys.executable, "-c", SCRIPT, zookeeper.hosts, paths.root],
                         capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().endswith("OK"), out.stderr[-2000:]
