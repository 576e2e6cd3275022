"""State tables: update delivery through the State Proxy versus straight from ZooKeeper.

``python -m benchmarks state_proxy [--quick] --json``

For each table size N (1k, 10k, 20k, 50k; quick: 1k and 10k) one writer makes
single-entry changes (one every 100 ms) to a table of N entries, read by 10
subscriber processes: first in direct mode (each re-reads the child list on
every change, MidoNet's legacy mode), then through one midonet-cluster State
Proxy. Measured per mode: latency from the write call to the change applied at
the subscriber (p50/p99 over all subscribers), wire bytes received per update
per subscriber, and child-list reads per update (all readers; for the proxy,
those the proxy made). The floor is a plain ZooKeeper watch on one small znode
(write -> watch fired -> data read) with the same number of readers.
Throughput: 100 subscriber connections to one proxy while the writer makes
1,000 changes/s; the figure is the change rate each subscriber received.

Everything runs on this machine: a private ZooKeeper, real processes, loopback.
"""
from __future__ import annotations

import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

READERS = 10
THROUGHPUT_SUBSCRIBERS = 100
THROUGHPUT_RATE = 1000
INTERVAL = 0.1
NET = uuid.UUID("5eed0000-0000-0000-0000-000000000001")
NET_TP = uuid.UUID("5eed0000-0000-0000-0000-000000000002")  # the throughput table


def _label(n: int) -> str:
    return f"{n // 1000}k"


def _mac(i: int, prefix: int = 0xAA) -> str:
    return f"{prefix:02x}:00:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:" \
           f"{(i >> 8) & 255:02x}:{i & 255:02x}"


def _pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


# -- worker processes --------------------------------------------------------------------------

def _worker_main(argv: list[str]) -> None:
    """A subscriber process: prints READY, records applied changes until STOP, prints JSON."""
    import threading

    from kazoo.client import KazooClient

    mode, zk_hosts, root = argv[0], argv[1], argv[2]
    out: dict = {"applied": {}}
    zk = KazooClient(hosts=zk_hosts, timeout=30)
    zk.start(timeout=30)
    from midonet_ryu.nsdb.paths import Paths
    paths = Paths(root)
    counters = {"bytes": 0}

    def count_reads(conn):
        original = conn._read

        def _read(length, timeout):
            counters["bytes"] += length
            return original(length, timeout)
        conn._read = _read

    ready = threading.Event()
    applied = out["applied"]
    if mode == "floor":
        node = f"{root}/floor"

        def on_data(data, stat):
            if data:
                applied[data.decode()] = time.monotonic()
        zk.DataWatch(node, on_data)
        ready.set()
        get_bytes = lambda: counters["bytes"]  # noqa: E731
        count_reads(zk._connection)
        get_reads = lambda: 0  # noqa: E731
    elif mode in ("direct", "proxy"):
        from midonet_ryu.nsdb.state_catalogue import MAC_TABLE

        def on_change(key, old, new):
            if new is not None and key.startswith("fe:"):
                applied[key] = time.monotonic()
        if mode == "direct":
            from midonet_ryu.nsdb.state_table import StateTable
            count_reads(zk._connection)
            table = StateTable(zk, paths, MAC_TABLE, NET, ("0",))
            table.add_callback(on_change)
            table.start()
            table.wait_ready(60)
            get_bytes = lambda: counters["bytes"]  # noqa: E731
            get_reads = lambda: table.reads  # noqa: E731
        else:
            from midonet_ryu.nsdb.state_proxy_transport import StateProxyClient
            port = int(argv[3])
            client = StateProxyClient(zk, paths, endpoints=lambda: [("127.0.0.1", port)],
                                      read_timeout=30.0).start()
            table = client.table(MAC_TABLE, NET, ("0",))
            table.add_callback(on_change)
            table.wait_ready(60)
            deadline = time.monotonic() + 60
            while (table.source != "proxy" or table.sid is None or table.updates_applied == 0) \
                    and time.monotonic() < deadline:
                time.sleep(0.01)  # it may read ZooKeeper until the proxy has answered
            get_bytes = lambda: client.bytes_received  # noqa: E731
            get_reads = lambda: 0  # noqa: E731
        ready.set()
    elif mode == "raw":
        _raw_worker(int(argv[3]), int(argv[4]), uuid.UUID(argv[5]))
        return
    else:
        raise SystemExit(f"unknown mode {mode}")
    ready.wait()
    # As an agent holding big tables should: keep them out of the cyclic GC's scans
    # (a full collection over 50k entries pauses the process for tens of ms).
    import gc
    gc.freeze()
    bytes0, reads0 = get_bytes(), get_reads()
    print("READY", flush=True)
    sys.stdin.readline()
    out["bytes"] = get_bytes() - bytes0
    out["reads"] = get_reads() - reads0
    print(json.dumps(out), flush=True)
    os._exit(0)


def _raw_worker(port: int, connections: int, net: uuid.UUID) -> None:
    """Many bare State API connections in one process, counting delivered changes."""
    from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
    from midonet_ryu.stateproxy import state_api as m
    from midonet_ryu.stateproxy.framing import FrameDecoder, frame

    sel = selectors.DefaultSelector()
    state = []
    sub = frame(m.encode_request(m.ProxyRequest(1, m.Subscribe(
        MAC_TABLE.object_class, net, MAC_TABLE.key.java_class, MAC_TABLE.value.java_class,
        "mac_table", ("0",)))))
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(sub)
        s.setblocking(False)
        st = {"dec": FrameDecoder(1 << 24), "entries": 0, "snap": False, "last": 0.0}
        state.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    announced = False
    while True:
        for key, _ in sel.select(1.0):
            st = key.data
            if st is None:
                sys.stdin.readline()
                print(json.dumps({"counts": [x["entries"] for x in state],
                                  "last": [x["last"] for x in state]}), flush=True)
                os._exit(0)
            data = key.fileobj.recv(1 << 20)
            if not data:
                sel.unregister(key.fileobj)
                continue
            now = time.monotonic()
            for f in st["dec"].feed(data):
                resp = m.decode_response(f)
                body = resp.body
                if isinstance(body, m.Notify) and isinstance(body.body, m.Update):
                    if body.body.type == m.UpdateType.SNAPSHOT:
                        st["snap"] = st["snap"] or body.body.end
                    else:
                        st["entries"] += len(body.body.entries)
                        st["last"] = now
        if not announced and all(x["snap"] for x in state):
            announced = True
            print("READY", flush=True)


class _Workers:
    def __init__(self, args: list[list[str]]) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.procs = [subprocess.Popen(
            [sys.executable, "-m", "benchmarks.state_proxy", "--worker", *a],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, cwd=ROOT, env=env) for a in args]
        for p in self.procs:
            line = p.stdout.readline()
            if line.strip() != "READY":
                self.kill()
                raise RuntimeError(f"benchmark worker failed to start: {line!r}")

    def finish(self) -> list[dict]:
        results = []
        for p in self.procs:
            p.stdin.write("STOP\n")
            p.stdin.flush()
        for p in self.procs:
            results.append(json.loads(p.stdout.readline()))
            p.wait(10)
        return results

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)


# -- phases --------------------------------------------------------------------------------------

def _populate(zk, path: str, n: int) -> None:
    """N persistent entries, created in pipelined batches."""
    zk.ensure_path(path)
    existing = len(zk.get_children(path))
    batch = []
    for i in range(existing, n):
        batch.append(zk.create_async(f"{path}/{_mac(i)},{uuid.UUID(int=i)},2147483647"))
        if len(batch) >= 2000:
            for r in batch:
                r.get()
            batch = []
    for r in batch:
        r.get()


def _measure_changes(zk, writer, workers: _Workers, changes: int, start: int,
                     drain: float = 1.0) -> dict:
    # Warm-up: one unmeasured change, then a pause, so subscriber processes that just
    # loaded the table (and froze it out of the GC) are idle when measuring starts.
    writer.add(_mac(start, 0xFC), uuid.UUID(int=start))
    time.sleep(0.5)
    written = {}
    for i in range(start, start + changes):
        key = _mac(i, 0xFE)
        written[key] = time.monotonic()
        writer.add(key, uuid.UUID(int=i))
        time.sleep(INTERVAL)
    time.sleep(drain + INTERVAL)  # let slow readers apply the last changes
    results = workers.finish()
    latencies = []
    missing = 0
    for r in results:
        for key, t0 in written.items():
            t1 = r["applied"].get(key)
            if t1 is None:
                missing += 1
            else:
                latencies.append((t1 - t0) * 1000)
    return {
        "p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99), "missing": missing,
        # The warm-up change is counted in the traffic, so it counts as an update too.
        "bytes": statistics.mean(r["bytes"] for r in results) / (changes + 1),
        "reads": sum(r["reads"] for r in results) / (changes + 1),
    }


def _floor(zk, zk_hosts: str, root: str, changes: int) -> dict:
    node = f"{root}/floor"
    zk.ensure_path(node)
    workers = _Workers([["floor", zk_hosts, root] for _ in range(READERS)])
    written = {}
    try:
        for i in range(changes):
            key = f"w{i}"
            written[key] = time.monotonic()
            zk.set(node, key.encode())
            time.sleep(INTERVAL)
        time.sleep(1.0)
        results = workers.finish()
    finally:
        workers.kill()
    lat = [(r["applied"][k] - t) * 1000 for r in results for k, t in written.items()
           if k in r["applied"]]
    return {"p50": _pct(lat, 0.5), "p99": _pct(lat, 0.99)}


def _throughput(zk, zk_hosts: str, root: str, port: int, seconds: float) -> dict:
    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
    from midonet_ryu.nsdb.state_table import table_path

    path = table_path(Paths(root), MAC_TABLE, NET_TP, ("0",))
    procs = 4
    per = THROUGHPUT_SUBSCRIBERS // procs
    workers = _Workers([["raw", zk_hosts, root, str(port), str(per), str(NET_TP)]
                        for _ in range(procs)])
    total = int(THROUGHPUT_RATE * seconds)
    try:
        t0 = time.monotonic()
        pending = []
        for i in range(total):
            due = t0 + i / THROUGHPUT_RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pending.append(zk.create_async(
                f"{path}/{_mac(1_000_000 + i, 0xFD)},{uuid.UUID(int=i)},2147483647"))
        for r in pending:
            r.get()
        t_written = time.monotonic()
        time.sleep(2.0)
        results = workers.finish()
    finally:
        workers.kill()
    counts = [c for r in results for c in r["counts"]]
    lasts = [t for r in results for t in r["last"]]
    rates = [c / max(last - t0, t_written - t0) for c, last in zip(counts, lasts, strict=True)]
    return {
        "subscribers": len(counts),
        "changes_written": total,
        "write_rate": total / (t_written - t0),
        "min_received": min(counts),
        "rate": statistics.mean(rates),
        "lag_ms": (max(lasts) - t_written) * 1000,
    }


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool = False) -> dict:
    sys.path.insert(0, ROOT)
    from kazoo.client import KazooClient

    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
    from midonet_ryu.nsdb.state_table import StateTable
    from tools.lab.cluster import ClusterProcess
    from tools.lab.zookeeper import TemporaryZooKeeper

    sizes = [1000, 10000] if quick else [1000, 10000, 20000, 50000]
    changes = 20 if quick else 100
    figures: dict = {"readers": READERS, "change_interval_ms": INTERVAL * 1000,
                     "changes_per_size": changes}
    zk_server = TemporaryZooKeeper().start()
    cluster = None
    try:
        zk = KazooClient(hosts=zk_server.hosts, timeout=30)
        zk.start(timeout=30)
        figures["floor_p50_ms"], figures["floor_p99_ms"] = (
            lambda f: (round(f["p50"], 2), round(f["p99"], 2)))(
            _floor(zk, zk_server.hosts, "/floor", changes))
        cluster = ClusterProcess(zk_server.hosts, root="/bench").start()
        paths = Paths("/bench")
        writer = StateTable(zk, paths, MAC_TABLE, NET, ("0",))
        # Throughput first, on a fresh table of 1k entries, while ZooKeeper is fresh
        # (after serving 50k-entry child lists to 10 readers its JVM is busy collecting).
        _populate(zk, StateTable(zk, paths, MAC_TABLE, NET_TP, ("0",)).path, 1000)
        cpu0 = _cpu_seconds(cluster.pid)
        tp = _throughput(zk, zk_server.hosts, "/bench", cluster.port, 3.0 if quick else 5.0)
        figures["subscribers_100_updates_per_s"] = round(tp["rate"], 1)
        figures["throughput_min_changes_received"] = tp["min_received"]
        figures["throughput_changes_written"] = tp["changes_written"]
        figures["throughput_write_rate"] = round(tp["write_rate"], 1)
        figures["throughput_final_lag_ms"] = round(tp["lag_ms"], 1)
        figures["throughput_proxy_cpu_s"] = round(_cpu_seconds(cluster.pid) - cpu0, 2)
        next_change = 0
        for n in sizes:
            label = _label(n)
            _populate(zk, writer.path, n)
            for mode in ("direct", "proxy"):
                args = [mode, zk_server.hosts, "/bench", str(cluster.port)]
                workers = _Workers([args for _ in range(READERS)])
                try:
                    health0 = cluster.health()
                    cpu0 = _cpu_seconds(cluster.pid)
                    drain = 1.0 + (n / 10000 if mode == "direct" else 0.0)
                    result = _measure_changes(zk, writer, workers, changes, next_change, drain)
                    next_change += changes + 1
                    health1 = cluster.health()
                finally:
                    workers.kill()
                figures[f"{mode}_p50_ms_{label}"] = round(result["p50"], 2)
                figures[f"{mode}_p99_ms_{label}"] = round(result["p99"], 2)
                figures[f"{mode}_bytes_per_update_{label}"] = round(result["bytes"], 1)
                figures[f"{mode}_missing_{label}"] = result["missing"]
                if mode == "direct":
                    figures[f"direct_zk_reads_per_update_{label}"] = round(result["reads"], 2)
                else:
                    reads = (health1["metrics"].get("state_proxy.zk_child_reads", 0)
                             - health0["metrics"].get("state_proxy.zk_child_reads", 0))
                    figures[f"proxy_zk_reads_per_update_{label}"] = round(reads / (changes + 1),
                                                                          3)
                    figures[f"proxy_cpu_s_per_update_{label}"] = round(
                        (_cpu_seconds(cluster.pid) - cpu0) / (changes + 1), 5)
        zk.stop()
        zk.close()
    finally:
        if cluster is not None:
            cluster.cleanup()
        zk_server.stop()
    for n in sizes:
        label = _label(n)
        proxy, direct = figures[f"proxy_p99_ms_{label}"], figures[f"direct_p99_ms_{label}"]
        figures[f"proxy_p99_over_floor_{label}"] = round(proxy / figures["floor_p99_ms"], 2)
        figures[f"direct_over_proxy_p99_{label}"] = round(direct / proxy, 1) if proxy else None
    return figures


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.path.insert(0, ROOT)
        _worker_main(sys.argv[2:])
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), sort_keys=True, indent=1))
