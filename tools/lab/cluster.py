"""Running real ``midonet-cluster`` processes for tests and benchmarks.

Each process gets its own config file and log in a temporary directory,
listens on 127.0.0.1 on a free port (the State Proxy's, and one for its
Prometheus endpoint: several clusters share the machine, so the default 7301
would collide), and is ended by PID.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tools.lab.procs import daemon_python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str, timeout: float = 5.0) -> dict:
    """GET a Prometheus endpoint and parse it: ``{family name: Metric}``.

    Family names are as the parser gives them: a counter ``x_total`` is
    family ``x`` with sample ``x_total``.
    """
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


class ServesMetrics:
    """A lab daemon whose Prometheus endpoint is on ``metrics_port``."""

    metrics_port: int

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def scrape(self, timeout: float = 5.0) -> dict:
        """The daemon's ``/metrics``, parsed: metric families by name."""
        return scrape(self.metrics_url, timeout)


# The lab's REST API users (strategy local): an admin and one user of each of
# two tenants, so tests can prove both what a tenant may and may not touch.
LAB_USERS = {
    "admin": ("admin-secret", "", "admin"),
    "alice": ("alice-secret", "tenant-a", "tenant"),
    "bob": ("bob-secret", "tenant-b", "tenant"),
}
_HASHES: dict[str, str] = {}


def _users_option() -> str:
    from cluster_proxy.rest_api.auth import hash_password

    entries = []
    for name, (password, tenant, role) in LAB_USERS.items():
        if name not in _HASHES:
            _HASHES[name] = hash_password(password)
        entries.append(f"{name}:{_HASHES[name]}:{tenant}:{role}")
    return ",".join(entries)


class ClusterProcess(ServesMetrics):
    """One midonet-cluster daemon with the State Proxy and the REST API on
    private ports."""

    def __init__(self, zk_hosts: str, root: str = "/midonet", port: int | None = None,
                 metrics_port: int | None = None, api_port: int | None = None,
                 auth_opts: dict[str, object] | None = None,
                 sections: dict[str, dict[str, object]] | None = None,
                 **cluster_opts: object) -> None:
        """``metrics_port``: None picks a free one, 0 disables the endpoint;
        ``api_port`` likewise for the REST API (0: service disabled);
        ``sections``: more option groups (``{"neutron": {...}}``)."""
        self.zk_hosts = zk_hosts
        self.root = root
        self.port = port or free_port()
        self.metrics_port = free_port() if metrics_port is None else metrics_port
        self.api_port = free_port() if api_port is None else api_port
        self.auth_opts = auth_opts or {}
        self.cluster_opts = cluster_opts
        self.sections = sections or {}
        self.dir = tempfile.mkdtemp(prefix="mr-cluster-")
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "cluster.log")

    def _config(self) -> str:
        lines = ["[zookeeper]", f"zookeeper_hosts = {self.zk_hosts}", f"root_key = {self.root}",
                 "session_timeout = 6000", "[cluster]", "state_proxy_server_address = 127.0.0.1",
                 f"state_proxy_server_port = {self.port}",
                 "state_proxy_server_shutdown_timeout = 2",
                 "metrics_listen_address = 127.0.0.1", f"metrics_port = {self.metrics_port}"]
        opts: dict[str, object] = {"state_proxy_server_bind_retry_interval": 1}
        if self.api_port:
            opts.update(rest_api_listen_address="127.0.0.1", rest_api_port=self.api_port)
        else:
            opts["rest_api_enabled"] = False
        opts.update(self.cluster_opts)
        lines += [f"{k} = {v}" for k, v in opts.items()]
        auth = dict(self.auth_opts)
        auth.setdefault("strategy", "local")
        if auth["strategy"] == "local":
            auth.setdefault("users", _users_option())
            auth.setdefault("token_secret", "lab-secret-" + os.path.basename(self.dir))
        lines += ["[auth]"] + [f"{k} = {v}" for k, v in auth.items()]
        for group, values in self.sections.items():
            lines += [f"[{group}]"] + [f"{k} = {v}" for k, v in values.items()]
        path = os.path.join(self.dir, "cluster.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, wait: bool = True, timeout: float = 20.0) -> ClusterProcess:
        conf = self._config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [daemon_python(), "-c", "import sys; from cluster_proxy.main import main; "
             "sys.exit(main())", "--config-file", conf],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        if wait:
            self.wait_listening(timeout)
        return self

    @property
    def api_url(self) -> str:
        """The REST API's root, e.g. ``http://127.0.0.1:PORT/midonet-api``."""
        return f"http://127.0.0.1:{self.api_port}/midonet-api"

    def listening(self) -> bool:
        ports = [self.port] + ([self.api_port] if self.api_port else [])
        try:
            for port in ports:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
            return True
        except OSError:
            return False

    def wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.listening():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"midonet-cluster exited: {self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"midonet-cluster not listening: {self.tail()}")
            time.sleep(0.05)

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def assert_healthy_since(self, offset: int,
                             failure_mark: str = "ERROR cluster_proxy.rest_api") -> None:
        """The daemon still runs and has logged no failed request since ``offset``
        (a 500 a test did not look at, or a client showed as "internal error")."""
        assert self.proc is not None and self.proc.poll() is None, \
            f"midonet-cluster died: {self.tail()}"
        with open(self.log_path, errors="replace") as f:
            f.seek(offset)
            new = f.read()
        assert failure_mark not in new, f"the API failed a request:\n{new[-4000:]}"

    def tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def health(self, timeout: float = 5.0) -> dict:
        """Ask the daemon (SIGUSR1) for its health line in the log and parse it."""
        import json

        before = self.tail(100000).count(" health ")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = [line for line in self.tail(100000).splitlines() if " health " in line]
            if len(lines) > before:
                return json.loads(lines[-1].split(" health ", 1)[1])
            time.sleep(0.05)
        raise TimeoutError("no health report")

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
