"""Private ZooKeeper servers: standalone, or a loopback ensemble for failure tests.

Debian's zookeeper.jar omits some Netty jars from its manifest, so the class
path is spelled out; the admin server is off so nothing takes port 8080.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tools.lab.procs import end_popen, free_port, wait_until

CLASSPATH = ":".join(
    "/usr/share/java/" + jar
    for jar in (
        "zookeeper.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "slf4j-log4j12.jar",
        "log4j-1.2.jar",
    )
)
_LOG4J = """log4j.rootLogger=WARN, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File={path}
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d %p [%t] %c{{1}}: %m%n
"""


def four_letter(port: int, cmd: str, timeout: float = 1.0) -> str:
    """Send a ZooKeeper four-letter command; '' when the server does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(cmd.encode())
            chunks = []
            while True:
                data = s.recv(4096)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeperServer:
    """One ZooKeeper JVM in its own directory, ended by PID."""

    def __init__(self, workdir: str, client_port: int | None = None, myid: int | None = None,
                 peers: list[tuple[int, int, int]] | None = None,
                 tick_ms: int = 500, min_session_timeout_ms: int | None = None,
                 heap_mb: int = 256) -> None:
        self.workdir = workdir
        # small for the many servers of the tests; benchmarks that write
        # thousands of ports ask for more (a server out of heap exits)
        self.heap_mb = heap_mb
        self.client_port = client_port or free_port()
        self.myid = myid
        self.peers = peers or []
        self.tick_ms = tick_ms
        self.min_session_timeout_ms = min_session_timeout_ms
        self.proc: subprocess.Popen | None = None
        os.makedirs(os.path.join(workdir, "data"), exist_ok=True)

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _write_config(self) -> str:
        data = os.path.join(self.workdir, "data")
        lines = [
            f"tickTime={self.tick_ms}",
            "initLimit=10",
            "syncLimit=5",
            f"dataDir={data}",
            f"clientPort={self.client_port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
        ]
        if self.min_session_timeout_ms:
            lines.append(f"minSessionTimeout={self.min_session_timeout_ms}")
        for sid, peer, election in self.peers:
            lines.append(f"server.{sid}=127.0.0.1:{peer}:{election}")
        if self.myid is not None:
            with open(os.path.join(data, "myid"), "w") as f:
                f.write(str(self.myid))
        cfg = os.path.join(self.workdir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.workdir, "log4j.properties"), "w") as f:
            f.write(_LOG4J.format(path=os.path.join(self.workdir, "zookeeper.log")))
        return cfg

    def start(self, wait: bool = True, timeout: float = 30.0) -> ZooKeeperServer:
        if not os.path.exists("/usr/share/java/zookeeper.jar"):
            raise RuntimeError("ZooKeeper is not installed (apt-get install zookeeper)")
        cfg = self._write_config()
        out = open(os.path.join(self.workdir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            ["java", f"-Xmx{self.heap_mb}m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             f"-Dlog4j.configuration=file:{self.workdir}/log4j.properties",
             "-Dzookeeper.jmx.log4j.disable=true",
             "-cp", CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        if wait:
            self.wait_serving(timeout)
        return self

    def serving(self) -> bool:
        return "Mode:" in four_letter(self.client_port, "srvr")

    def mode(self) -> str:
        for line in four_letter(self.client_port, "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return ""

    def wait_serving(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited early, see {self.workdir}/zookeeper.log")
            return self.serving()

        wait_until(ready, timeout, 0.05, what=f"ZooKeeper on port {self.client_port}")

    def stop(self) -> None:
        if self.proc:
            end_popen(self.proc, timeout=10)

    def kill(self) -> None:
        if self.proc:
            end_popen(self.proc, timeout=5, sig=signal.SIGKILL)


class ZooKeeperEnsemble:
    """N servers on loopback (3 by default) for leader-failure tests."""

    def __init__(self, workdir: str, size: int = 3) -> None:
        ports = [(i + 1, free_port(), free_port()) for i in range(size)]
        self.servers = [
            ZooKeeperServer(os.path.join(workdir, f"zk{sid}"), myid=sid, peers=ports)
            for sid, _, _ in ports
        ]

    @property
    def hosts(self) -> str:
        return ",".join(s.hosts for s in self.servers)

    def start(self, timeout: float = 60.0) -> ZooKeeperEnsemble:
        for s in self.servers:
            s.start(wait=False)
        deadline = time.monotonic() + timeout
        for s in self.servers:
            s.wait_serving(max(1.0, deadline - time.monotonic()))
        return self

    def leader(self) -> ZooKeeperServer:
        def find() -> ZooKeeperServer | None:
            for s in self.servers:
                if s.proc and s.proc.poll() is None and s.mode() == "leader":
                    return s
            return None

        return wait_until(find, 30.0, what="a ZooKeeper leader")  # type: ignore[return-value]

    def stop(self) -> None:
        """Kill every member: a test ensemble's data is thrown away, and a
        member told to stop can wait on its peers for the whole grace period
        (ten seconds per test here)."""
        for s in self.servers:
            s.kill()


class TemporaryZooKeeper(ZooKeeperServer):
    """A standalone server in a temporary directory removed on stop."""

    def __init__(self, **kwargs) -> None:
        self._tmp = tempfile.mkdtemp(prefix="mr-zk-")
        super().__init__(self._tmp, **kwargs)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._tmp, ignore_errors=True)
