"""Agents as real processes: ``midonet-agent`` with a generated config file,
attached to one lab Open vSwitch instance, ended by PID."""
from __future__ import annotations

import os
import signal
import subprocess
import uuid

from tools.lab.cluster import ServesMetrics
from tools.lab.procs import (
    daemon_python,
    end_popen,
    free_port,
    pid_alive,
    port_open,
    wait_until,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def agent_command() -> list[str]:
    """Run the launcher with the project venv's interpreter."""
    return [daemon_python(), "-m", "apps.launcher"]


class AgentProcess(ServesMetrics):
    def __init__(self, workdir: str, zookeeper_hosts: str, ovsdb_connection: str,
                 underlay_ip: str, root_key: str = "/midonet", host_id: uuid.UUID | None = None,
                 tunnel_zones: tuple[str, ...] = ("default",), tunnel_type: str = "vxlan",
                 extra: dict[str, dict[str, str]] | None = None,
                 command: list[str] | None = None, of_port: int | None = None,
                 datapath_type: str = "dummy", metrics_port: int | None = None) -> None:
        """``metrics_port``: None picks a free one (agents share the machine, so the
        default 7300 would collide), 0 disables the endpoint."""
        self.workdir = workdir
        self.command = command or agent_command()
        os.makedirs(workdir, exist_ok=True)
        self.host_id = host_id or uuid.uuid4()
        self.of_port = of_port or free_port()
        metrics_port = free_port() if metrics_port is None else metrics_port
        self.config_path = os.path.join(workdir, "midonet_ryu.conf")
        self.log_path = os.path.join(workdir, "agent.log")
        sections: dict[str, dict[str, str]] = {
            "DEFAULT": {"log_file": self.log_path, "debug": "false"},
            "zookeeper": {"zookeeper_hosts": zookeeper_hosts, "root_key": root_key,
                          "session_timeout": "10000", "connect_retry_interval": "0.5"},
            # each lab hypervisor registers under its own name (hv1, hv2, ...)
            "host": {"host_id": str(self.host_id), "hostname": os.path.basename(
                         os.path.normpath(workdir)).removeprefix("agent-"),
                     "host_id_file": os.path.join(workdir, "host_id")},
            "agent": {"ovsdb_connection": ovsdb_connection, "datapath_type": datapath_type,
                      "openflow_listen_address": "127.0.0.1",
                      "openflow_listen_port": str(self.of_port), "underlay_ip": underlay_ip,
                      "tunnel_zones": ",".join(tunnel_zones), "tunnel_type": tunnel_type,
                      "control_socket": os.path.join(workdir, "agent.sock"),
                      "flow_state_file": os.path.join(workdir, "flow-state.json"),
                      "reconcile_grace": "2", "metrics_listen_address": "127.0.0.1",
                      "metrics_port": str(metrics_port)},
        }
        for section, values in (extra or {}).items():
            sections.setdefault(section, {}).update(values)
        self.metrics_port = int(sections["agent"]["metrics_port"])
        with open(self.config_path, "w") as f:
            for section, values in sections.items():
                f.write(f"[{section}]\n")
                for k, v in values.items():
                    f.write(f"{k} = {v}\n")
                f.write("\n")
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, wait: bool = True, timeout: float = 30.0) -> AgentProcess:
        out = open(os.path.join(self.workdir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            self.command + ["--config-file", self.config_path], cwd=REPO,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        out.close()
        if wait:
            self.wait_listening(timeout)
        return self

    def wait_listening(self, timeout: float = 30.0) -> None:
        def up() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}: "
                                   f"see {self.log_path}\n{self.tail()}")
            return port_open("127.0.0.1", self.of_port)

        wait_until(up, timeout, 0.05, what=f"agent OpenFlow port {self.of_port}")

    def wait_log(self, text: str, timeout: float = 20.0) -> None:
        wait_until(lambda: text in self.log(), timeout, 0.05, what=f"agent log {text!r}")

    @property
    def control_socket(self) -> str:
        return os.path.join(self.workdir, "agent.sock")

    def ctl(self, command: str, timeout: float = 5.0):
        """Ask the running agent (``midonet-agent-ctl``'s request)."""
        from apps.control import request

        return request(self.control_socket, command, timeout=timeout)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc:
            end_popen(self.proc, timeout=timeout)
            return self.proc.returncode
        return None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def alive(self) -> bool:
        return bool(self.proc and self.proc.poll() is None and pid_alive(self.proc.pid))
