"""State tables under eventlet, as the cluster and an eventlet agent run them: the direct
table, and the State Proxy client's transport (its threads and sockets turned green)."""
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


PROXY_SCRIPT = textwrap.dedent("""
    import warnings
    warnings.simplefilter("ignore")
    import eventlet
    eventlet.monkey_patch()
    import sys, uuid
    from kazoo.client import KazooClient
    from kazoo.handlers.eventlet import SequentialEventletHandler
    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
    from midonet_ryu.nsdb.state_proxy_transport import StateProxyClient
    from midonet_ryu.nsdb.state_table import StateTable

    def client():
        c = KazooClient(hosts=sys.argv[1], handler=SequentialEventletHandler())
        c.start(timeout=10)
        return c

    paths, net, port = Paths(sys.argv[2]), uuid.uuid4(), uuid.uuid4()
    proxy = StateProxyClient(client(), paths, soft_reconnect_delay=0.2,
                             read_timeout=3.0).start()
    table = proxy.table(MAC_TABLE, net, ("0",))
    writer = StateTable(client(), paths, MAC_TABLE, net, ("0",))
    for _ in range(500):
        if proxy.state == "connected" and table.source == "proxy" and table.sid is not None:
            break
        eventlet.sleep(0.02)
    assert table.source == "proxy", (proxy.state, table.source)
    writer.add("aa:bb:cc:00:00:01", port)
    for _ in range(500):
        if table.get("aa:bb:cc:00:00:01") == port:
            break
        eventlet.sleep(0.02)
    assert table.get("aa:bb:cc:00:00:01") == port and table.updates_applied >= 1
    proxy.stop()
    print("OK")
""")


def test_proxy_client_works_under_eventlet_monkey_patching(zookeeper, paths, cluster_factory):
    cluster_factory(root=paths.root)
    out = subprocess.run([sys.executable, "-c", PROXY_SCRIPT, zookeeper.hosts, paths.root],
                         capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().endswith("OK"), out.stderr[-2000:]
