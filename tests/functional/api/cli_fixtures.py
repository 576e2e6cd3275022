"""Fixtures for the midonet-cli functional tests (named ``cli_*`` so they
never shadow the API tests' conftest fixtures): one real cluster per module
on the session's ZooKeeper, the CLI run as a real process
(``python -m midonet_cli.main``, so no console script is needed), and the
NSDB access an agent would have, for what only agents write (hosts, state
tables)."""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import Store
from tools.lab.cluster import LAB_USERS, ClusterProcess

ROOT = pathlib.Path(__file__).resolve().parents[3]
ADMIN = ("admin", LAB_USERS["admin"][0])


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)

    def docs(self) -> list[Any]:
        """The JSON documents a batch printed one after the other."""
        decoder = json.JSONDecoder()
        out: list[Any] = []
        pos, text = 0, self.out
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                return out
            doc, pos = decoder.raw_decode(text, pos)
            out.append(doc)


class Cli:
    """``midonet-cli`` as operators run it, settings from an rc file in a
    private HOME (so the tester's own ``~/.midonetrc`` never leaks in)."""

    def __init__(self, api_url: str, home: pathlib.Path) -> None:
        self.api_url = api_url
        self.home = home
        self.rc = home / "midonetrc"
        self.write_rc(api_url=api_url, username=ADMIN[0], password=ADMIN[1])

    def write_rc(self, path: pathlib.Path | None = None, **values: str) -> pathlib.Path:
        path = path or self.rc
        path.write_text("[cli]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
        return path

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MIDO_") and k != "MIDONETRC"}
        env.update(HOME=str(self.home), MIDONETRC=str(self.rc), PYTHONUNBUFFERED="1")
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def run(self, *args: str, env: Mapping[str, str | None] | None = None,
            stdin: str | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run([sys.executable, "-m", "midonet_cli.main", *args], cwd=ROOT,
                              env=self.env(env), input=stdin if stdin is not None else "",
                              capture_output=True, text=True, timeout=timeout, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def json(self, *args: str, **kwargs: Any) -> Any:
        result = self.run(*args, "-f", "json", **kwargs)
        assert result.code == 0, f"{' '.join(args)}: {result.err}"
        return result.json()

    def batch(self, lines: Sequence[str], *args: str, **kwargs: Any) -> Result:
        """Many commands in one process: the interactive shell reading them
        from its stdin, as ``midonet-cli [ARGS] < script`` does."""
        return self.run(*args, stdin="\n".join(lines) + "\n", **kwargs)


# What the cluster logs when a request failed inside the API (a 500)
API_BUG_MARK = "ERROR cluster_proxy.rest_api"


@pytest.fixture(scope="module")
def cli_cluster(zk_server: Any) -> Iterator[ClusterProcess]:
    proc = ClusterProcess(zk_server.hosts, root=f"/cli-{uuid.uuid4().hex[:12]}").start()
    yield proc
    proc.cleanup()


@pytest.fixture(autouse=True)
def cli_cluster_stays_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the cluster: it still runs and no request failed
    inside the API (a 500 the CLI would show as "internal error")."""
    if "cli_cluster" not in request.fixturenames:
        yield
        return
    proc: ClusterProcess = request.getfixturevalue("cli_cluster")
    start = proc.log_size()
    yield
    proc.assert_healthy_since(start, API_BUG_MARK)


@pytest.fixture(scope="module")
def cli(cli_cluster: ClusterProcess, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(cli_cluster.api_url, tmp_path_factory.mktemp("cli-home"))


@dataclasses.dataclass
class Nsdb:
    client: KazooClient
    paths: Paths
    store: Store


@pytest.fixture(scope="module")
def cli_nsdb(zk_server: Any, cli_cluster: ClusterProcess) -> Iterator[Nsdb]:
    """The cluster's NSDB as an agent reaches it: its session keeps alive
    the ephemeral keys written through it (host liveness, learned entries)."""
    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    client.start(timeout=15)
    paths = Paths(cli_cluster.root)
    yield Nsdb(client, paths, Store(client, paths))
    client.stop()
    client.close()
