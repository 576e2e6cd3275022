"""Private Open vSwitch instances with the dummy datapath, wired by a dummy underlay.

Why the dummy datapath: these machines have no kernel Open vSwitch module, and
``--enable-dummy --disable-system --disable-system-route`` gives bridges whose
ports are plain userspace objects while VXLAN/GRE/Geneve tunnel ports still
encapsulate for real. Any number of such instances live side by side in one
network namespace, so one test process can run several "hypervisors".
(``--enable-dummy=override`` is never used: it turns tunnel ports into dummies
that silently carry nothing.)

Every daemon is started with ``--detach`` (so ``start`` returns only when it is
ready), remembered by PID and ended by PID. Detached daemons are re-parented to
PID 1 which reaps them late, so "gone" means "no /proc entry or a zombie".

Layout of one instance: ``workdir`` holds the database, logs, pid files and all
unix sockets (``db.sock``, ``<bridge>.mgmt``, VM port sockets, underlay links).
Keep ``workdir`` short: a unix socket path has at most 107 bytes. VM ports
connect through ``/proc/self/fd`` when the path is longer, like OVS itself does.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from tools.lab.procs import end_pid, pid_alive, wait_until

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
DUMMY_FLAGS = ("--enable-dummy", "--disable-system", "--disable-system-route")
COMMAND_TIMEOUT = 10.0

# Every daemon PID the lab started and has not yet seen gone: the tidy check
# of tools.lab.fixtures asserts this is empty (or all dead) at the end.
LAB_PIDS: dict[int, str] = {}


def register_pid(pid: int, what: str) -> None:
    """Remember a process the lab started so the tidy check can find leftovers."""
    LAB_PIDS[pid] = what


def forget_pid(pid: int) -> None:
    LAB_PIDS.pop(pid, None)


def leftover_pids() -> dict[int, str]:
    """Lab processes that are still running (zombies count as gone)."""
    return {pid: what for pid, what in LAB_PIDS.items() if pid_alive(pid)}


class OvsCommandError(RuntimeError):
    """An ovs-* command failed; carries the command line and its stderr."""


def _run(argv: Sequence[str], env: dict[str, str], input: str | None = None,
         timeout: float = COMMAND_TIMEOUT) -> str:
    try:
        proc = subprocess.run(list(argv), env=env, input=input, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise OvsCommandError(f"{' '.join(argv)}: timed out after {timeout}s") from e
    if proc.returncode != 0:
        raise OvsCommandError(f"{' '.join(argv)}: exit {proc.returncode}: "
                              f"{proc.stderr.strip()}")
    return proc.stdout


def unixctl(ctl_path: str, command: str, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
    """One ovs-appctl command over an OVS daemon's control socket (JSON-RPC)."""
    request = json.dumps({"method": command, "params": list(args), "id": 0}).encode()
    decoder = json.JSONDecoder()
    buf = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            _connect_unix(s, ctl_path)
            s.sendall(request)
            while True:
                data = s.recv(65536)
                if not data:
                    raise OvsCommandError(f"{ctl_path}: closed before replying to {command}")
                buf += data
                try:
                    reply, _ = decoder.raw_decode(buf.decode())
                    break
                except ValueError:
                    continue
        except OSError as e:
            raise OvsCommandError(f"{ctl_path}: {command} {' '.join(args)}: {e}") from e
    if reply.get("error") is not None:
        raise OvsCommandError(f"{command} {' '.join(args)}: {str(reply['error']).strip()}")
    return reply.get("result") or ""


def _read_pidfile(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def stable_mac(*parts: str) -> str:
    """A locally administered unicast MAC derived from ``parts``.

    Deterministic so a test run is reproducible and logs compare across runs.
    """
    h = hashlib.sha1("/".join(parts).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in h[:5])


_PORT_LINE = re.compile(r"^\s*port\s+(\S+?):\s+rx\s+(.*)$")
_STAT_ITEM = re.compile(r"(\w+)=(\d+|\?)")


def _parse_dump_ports(text: str) -> dict[int | str, dict[str, int]]:
    """Parse ``ovs-ofctl dump-ports`` into {ofport: {rx_packets, rx_bytes, ...}}.

    Unknown counters ("?" on dummy ports) read as 0. LOCAL keys as "LOCAL".
    """
    stats: dict[int | str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        m = _PORT_LINE.match(line)
        if m:
            key: int | str = m.group(1).strip('"')
            if isinstance(key, str) and key.isdigit():
                key = int(key)
            current = stats.setdefault(key, {})
            prefix, rest = "rx", m.group(2)
        elif current is not None and line.strip().startswith("tx "):
            prefix, rest = "tx", line.strip()[3:]
        else:
            continue
        for name, value in _STAT_ITEM.findall(rest):
            name = {"pkts": "packets"}.get(name, name)
            current[f"{prefix}_{name}"] = int(value) if value != "?" else 0
    return stats


class OvsInstance:
    """One private ovsdb-server + ovs-vswitchd pair: a "hypervisor" of the lab.

    ``name`` labels the instance in logs and MACs; ``workdir`` is its private
    OVS_RUNDIR/LOGDIR/DBDIR/SYSCONFDIR (created if missing).
    """

    # Subclasses (tools.lab.netns) run vswitchd elsewhere with another datapath.
    VSWITCHD_FLAGS: tuple[str, ...] = DUMMY_FLAGS
    DATAPATH_TYPE = "dummy"

    def __init__(self, name: str, workdir: str, extra_vswitchd_args: Sequence[str] = ()) -> None:
        self.name = name
        self.workdir = os.path.abspath(workdir)
        self.extra_vswitchd_args = tuple(extra_vswitchd_args)
        self.db_pid: int | None = None
        self.vswitchd_pid: int | None = None
        self.vm_ports: dict[str, VmPort] = {}
        # Called after restart_vswitchd(): runtime state that OVS does not keep
        # in its database (underlay addresses, routes, neighbours) is re-applied.
        self.restart_hooks: list[Callable[[OvsInstance], None]] = []
        self.underlay: Underlay | None = None
        self.env = dict(os.environ)
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"):
            self.env[var] = self.workdir
        self.env.pop("OVS_DB", None)

    def __repr__(self) -> str:
        return f"OvsInstance({self.name!r}, {self.workdir!r})"

    # -- paths ---------------------------------------------------------------

    @property
    def rundir(self) -> str:
        return self.workdir

    @property
    def db_sock(self) -> str:
        return os.path.join(self.workdir, "db.sock")

    @property
    def ovsdb_connection(self) -> str:
        """What an agent's ovsdbapp connects to."""
        return f"unix:{self.db_sock}"

    @property
    def db_file(self) -> str:
        return os.path.join(self.workdir, "conf.db")

    def log_path(self, daemon: str = "ovs-vswitchd") -> str:
        return os.path.join(self.workdir, f"{daemon}.log")

    def mgmt_sock(self, bridge: str = "br-int") -> str:
        """The bridge's OpenFlow management socket (what ovs-ofctl talks to)."""
        return os.path.join(self.workdir, f"{bridge}.mgmt")

    @property
    def pids(self) -> list[int]:
        return [p for p in (self.vswitchd_pid, self.db_pid) if p]

    # -- lifecycle -----------------------------------------------------------

    def start(self, bridges: Iterable[str] = ("br-int",)) -> OvsInstance:
        """Create a fresh database, start both daemons, add ``bridges``.

        Bridges get ``datapath_type=dummy`` and ``fail_mode=secure``: with no
        controller and no flows a secure bridge drops everything, which is what
        agent tests expect before the agent has programmed it.
        """
        os.makedirs(self.workdir, exist_ok=True)
        if os.path.exists(self.db_file):
            os.unlink(self.db_file)
        try:
            _run(["ovsdb-tool", "create", self.db_file, SCHEMA], self.env)
            _run(["ovsdb-server", "--detach", "--no-chdir",
                  f"--pidfile={self.workdir}/ovsdb-server.pid",
                  f"--log-file={self.log_path('ovsdb-server')}", "-vconsole:off",
                  f"--remote=punix:{self.db_sock}", self.db_file], self.env)
            self.db_pid = _read_pidfile(os.path.join(self.workdir, "ovsdb-server.pid"))
            if self.db_pid:
                register_pid(self.db_pid, f"ovsdb-server of {self.name}")
            self.vsctl("--no-wait", "init")
            self._start_vswitchd()
            for br in bridges:
                self.add_bridge(br)
        except BaseException:
            # A half-started instance must not outlive a failed start: callers
            # only stop what started.
            self.stop()
            raise
        return self

    def _vswitchd_prefix(self) -> list[str]:
        """Command prefix for ovs-vswitchd (e.g. ``ip netns exec NS``)."""
        return []

    def _start_vswitchd(self) -> None:
        argv = [*self._vswitchd_prefix(), "ovs-vswitchd", "--detach", "--no-chdir",
                f"--pidfile={self.workdir}/ovs-vswitchd.pid",
                f"--log-file={self.log_path()}", "-vconsole:off",
                *self.VSWITCHD_FLAGS, *self.extra_vswitchd_args, f"unix:{self.db_sock}"]
        deadline = time.monotonic() + 5.0
        while True:
            try:
                _run(argv, self.env)
                break
            except OvsCommandError as e:
                # Right after a SIGKILL the old daemon can still hold its
                # pidfile lock for a moment while the kernel tears it down.
                if "already running" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.vswitchd_pid = _read_pidfile(os.path.join(self.workdir, "ovs-vswitchd.pid"))
        if self.vswitchd_pid:
            register_pid(self.vswitchd_pid, f"ovs-vswitchd of {self.name}")

    def stop(self) -> None:
        """End vswitchd then ovsdb-server by PID and wait until both are gone."""
        for port in list(self.vm_ports.values()):
            port.close()
        for attr in ("vswitchd_pid", "db_pid"):
            pid = getattr(self, attr)
            if pid:
                end_pid(pid, timeout=5.0)
                forget_pid(pid)
                setattr(self, attr, None)

    def kill_vswitchd(self) -> None:
        """SIGKILL ovs-vswitchd (a crash): the database and its config stay."""
        if self.vswitchd_pid:
            end_pid(self.vswitchd_pid, timeout=5.0, sig=signal.SIGKILL)
            forget_pid(self.vswitchd_pid)
            self.vswitchd_pid = None

    def restart_vswitchd(self, kill: bool = True, reconnect: bool = True) -> None:
        """Stop (SIGKILL by default, else SIGTERM) and start ovs-vswitchd again.

        OpenFlow flows are gone afterwards (re-installing them is the agent's
        job); bridges and ports come back from the database. The underlay's
        runtime state is re-applied by ``restart_hooks`` and VM ports reconnect.
        """
        if kill:
            self.kill_vswitchd()
        elif self.vswitchd_pid:
            end_pid(self.vswitchd_pid)
            forget_pid(self.vswitchd_pid)
            self.vswitchd_pid = None
        self._start_vswitchd()
        for hook in self.restart_hooks:
            hook(self)
        if reconnect:
            for port in self.vm_ports.values():
                port.reconnect()

    @property
    def running(self) -> bool:
        return bool(self.vswitchd_pid and pid_alive(self.vswitchd_pid)
                    and self.db_pid and pid_alive(self.db_pid))

    def remove_workdir(self) -> None:
        """Delete the instance's directory (only after stop())."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- commands ------------------------------------------------------------

    def vsctl(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """ovs-vsctl against this instance; waits for vswitchd to apply the change
        (unless ``--no-wait`` is passed), so ofports are assigned on return."""
        return _run(["ovs-vsctl", f"--db=unix:{self.db_sock}", f"--timeout={int(timeout)}",
                     *args], self.env, timeout=timeout + 1)

    def ofctl(self, *args: str, input: str | None = None) -> str:
        """ovs-ofctl speaking OpenFlow 1.3 to this instance's bridges."""
        return _run(["ovs-ofctl", "-O", "OpenFlow13", *args], self.env, input=input)

    def appctl(self, *args: str, target: str = "ovs-vswitchd") -> str:
        """ovs-appctl to ``target`` ("ovs-vswitchd" or "ovsdb-server") of this instance.

        Speaks the control socket's JSON-RPC directly: 0.15 ms instead of 3 ms
        for an ovs-appctl process, which adds up in the underlay set-up.
        """
        pid = self.vswitchd_pid if target == "ovs-vswitchd" else self.db_pid
        if not pid:
            raise OvsCommandError(f"{target} of {self.name} is not running")
        return unixctl(os.path.join(self.workdir, f"{target}.{pid}.ctl"), args[0], *args[1:])

    def add_flows(self, bridge: str, flows: Iterable[str], purge: bool = True) -> None:
        """Install many flows with one ovs-ofctl call (flows read from stdin).

        ``purge`` then drops the cached datapath flows (see ``purge_datapath``),
        so the very next frame follows the new flows.
        """
        text = "\n".join(flows) + "\n"
        self.ofctl("add-flows", bridge, "-", input=text)
        if purge:
            self.purge_datapath()

    def purge_datapath(self) -> None:
        """Delete all cached datapath flows (~4 ms).

        After an OpenFlow change, frames matching an already cached datapath
        flow follow the OLD actions until a revalidator cycle (up to ~0.5 s)
        catches up; ``revalidator/wait`` would cost that 0.5 s, a purge does not.
        """
        self.appctl("revalidator/purge")

    def dump_flows(self, bridge: str = "br-int", match: str | None = None) -> list[str]:
        """Flows of ``bridge`` without counters (stable for comparisons)."""
        args = ["--no-stats", "dump-flows", bridge] + ([match] if match else [])
        out = self.ofctl(*args)
        return [line.strip() for line in out.splitlines()
                if line.strip() and not line.startswith(("OFPST_", "NXST_"))]

    def ofport(self, iface: str, timeout: float = 5.0) -> int:
        """The OpenFlow port number of ``iface``; raises if OVS could not add it."""
        def get() -> int | None:
            value = self.vsctl("--if-exists", "get", "Interface", iface, "ofport").strip()
            return None if value in ("", "[]") else int(value)

        # vsctl waits for vswitchd to apply changes, so the first read nearly always has it.
        port = get()
        if port is None:
            port = wait_until(get, timeout, what=f"ofport of {iface}")  # type: ignore[assignment]
        if port is None or port <= 0:
            err = self.vsctl("--if-exists", "get", "Interface", iface, "error").strip()
            raise OvsCommandError(f"interface {iface} on {self.name} has ofport {port}: {err}")
        return port

    def port_stats(self, bridge: str = "br-int") -> dict[int | str, dict[str, int]]:
        """Per-port OpenFlow counters: {ofport: {"rx_packets": .., "tx_packets": .., ...}}.

        Read via OpenFlow because OVSDB interface statistics refresh only every 5 s.
        """
        return _parse_dump_ports(self.ofctl("dump-ports", bridge))

    # -- bridges and ports ---------------------------------------------------

    def add_bridge(self, bridge: str, fail_mode: str | None = "secure",
                   hwaddr: str | None = None) -> None:
        """Add a bridge of this instance's datapath type (no-op when it exists)."""
        args = ["--may-exist", "add-br", bridge, "--", "set", "Bridge", bridge,
                f"datapath_type={self.DATAPATH_TYPE}"]
        if fail_mode:
            args.append(f"fail_mode={fail_mode}")
        if hwaddr:
            args.append(f"other-config:hwaddr={hwaddr}")
        self.vsctl(*args)

    def has_bridge(self, bridge: str) -> bool:
        return bridge in self.vsctl("list-br").split()

    def add_vm_port(self, name: str, bridge: str = "br-int", mac: str | None = None,
                    iface_id: str | None = None, connect: bool = True) -> VmPort:
        """Attach a "VM" to ``bridge`` and connect to it.

        The port is ``type=dummy`` with ``options:pstream=punix:<rundir>/<name>.sock``.
        ``iface_id`` sets ``external_ids:iface-id`` (and attached-mac,
        iface-status) as os-vif does, so an agent can bind the port.
        """
        if not self.has_bridge(bridge):
            self.add_bridge(bridge)
        mac = mac or stable_mac(self.name, name)
        sock = os.path.join(self.workdir, f"{name}.sock")
        args = ["--may-exist", "add-port", bridge, name, "--", "set", "Interface", name,
                "type=dummy", f"options:pstream=punix:{sock}",
                f'external_ids:attached-mac="{mac}"']
        if iface_id:
            args += [f'external_ids:iface-id="{iface_id}"', "external_ids:iface-status=active"]
        self.vsctl(*args)
        port = VmPort(self, name, mac, sock)
        self.vm_ports[name] = port
        if connect:
            port.connect()
        return port

    def del_port(self, name: str, bridge: str | None = None) -> None:
        port = self.vm_ports.pop(name, None)
        if port:
            port.close()
        args = ["--if-exists", "del-port"] + ([bridge] if bridge else []) + [name]
        self.vsctl(*args)

    def add_tunnel_port(self, name: str, kind: str = "vxlan", bridge: str = "br-int",
                        **options: str) -> int:
        """A flow-based tunnel port (remote_ip=flow, key=flow unless overridden)."""
        opts = {"remote_ip": "flow", "key": "flow", **options}
        args = ["--may-exist", "add-port", bridge, name, "--", "set", "Interface", name,
                f"type={kind}"] + [f"options:{k}={v}" for k, v in opts.items()]
        self.vsctl(*args)
        return self.ofport(name)


# -- VM ports -----------------------------------------------------------------


def _connect_unix(sock: socket.socket, path: str) -> None:
    """connect() that also works for paths longer than sun_path (107 bytes)."""
    if len(path.encode()) < 108:
        sock.connect(path)
        return
    dirfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
    finally:
        os.close(dirfd)


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    except FileNotFoundError:
        pass
    return inodes


def _unix_conn_inodes(path: str) -> set[int]:
    """Inodes of connected server-side sockets bound to ``path`` (/proc/net/unix)."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and fields[5] == "03":
                inodes.add(int(fields[6]))
    return inodes


class VmPort:
    """A "VM" on a dummy port: frames in and out over the port's unix socket.

    Framing (both directions): 2-byte big-endian length, then the Ethernet frame.
    Frames the bridge outputs before ``connect()`` are lost, as are frames
    beyond the 100 each queue holds.
    """

    def __init__(self, instance: OvsInstance, name: str, mac: str, sock_path: str) -> None:
        self.instance = instance
        self.name = name
        self.mac = mac
        self.sock_path = sock_path
        self.ofport: int = -1
        self._sock: socket.socket | None = None
        self._buf = b""

    def __repr__(self) -> str:
        return f"VmPort({self.instance.name}/{self.name}, ofport={self.ofport}, mac={self.mac})"

    def connect(self, timeout: float = 5.0) -> VmPort:
        """Connect to the port's socket once vswitchd has created it, and wait
        until vswitchd has accepted the connection (else the first frames the
        bridge outputs would be lost)."""
        self.close()
        self.ofport = self.instance.ofport(self.name, timeout)

        def attempt() -> socket.socket | None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                _connect_unix(s, self.sock_path)
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                return None
            return s

        self._sock = wait_until(attempt, timeout, 0.01,
                                what=f"socket of VM port {self.name}")  # type: ignore[assignment]
        self._buf = b""
        pid = self.instance.vswitchd_pid
        if pid and len(self.sock_path.encode()) < 108:
            wait_until(lambda: _unix_conn_inodes(self.sock_path) <= _socket_inodes(pid),
                       timeout, 0.005, what=f"vswitchd to accept VM port {self.name}")
        return self

    def reconnect(self, timeout: float = 10.0) -> VmPort:
        """Connect again, e.g. after ovs-vswitchd restarted."""
        return self.connect(timeout)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf = b""

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise RuntimeError(f"VM port {self.name} is not connected")
        return self._sock

    def send(self, frame: bytes) -> None:
        """Send one Ethernet frame into the bridge (as if the VM transmitted it)."""
        if len(frame) < 14:
            raise ValueError("an Ethernet frame has at least 14 bytes")
        self._require().sendall(struct.pack(">H", len(frame)) + frame)

    def _pop_frame(self) -> bytes | None:
        if len(self._buf) < 2:
            return None
        (n,) = struct.unpack(">H", self._buf[:2])
        if len(self._buf) < 2 + n:
            return None
        frame, self._buf = self._buf[2:2 + n], self._buf[2 + n:]
        return frame

    def recv(self, timeout: float = 1.0) -> bytes | None:
        """The next frame the bridge sent to this VM, or None after ``timeout``."""
        sock = self._require()
        deadline = time.monotonic() + timeout
        while True:
            frame = self._pop_frame()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                return None
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"VM port {self.name}: vswitchd closed the connection")
            self._buf += data

    def recv_all(self, timeout: float = 0.5) -> list[bytes]:
        """Every frame that arrives within ``timeout`` seconds (the whole window)."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.0, deadline - time.monotonic()))
            if frame is None:
                return frames
            frames.append(frame)

    def drain(self, quiet: float = 0.0) -> int:
        """Discard frames already received (and any arriving within ``quiet`` s)."""
        return len(self.recv_all(quiet))

    def expect(self, predicate: Callable[[bytes], bool], timeout: float = 2.0) -> bytes:
        """The first frame for which ``predicate`` holds; others are discarded.

        Raises AssertionError naming what did arrive, so a failing test says why.
        """
        seen: list[bytes] = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.0, deadline - time.monotonic()))
            if frame is None:
                summary = ", ".join(f.hex()[:60] for f in seen[:5]) or "nothing"
                raise AssertionError(
                    f"VM port {self.instance.name}/{self.name}: no matching frame within "
                    f"{timeout}s; got {len(seen)} other frame(s): {summary}")
            if predicate(frame):
                return frame
            seen.append(frame)


# -- the underlay ---------------------------------------------------------------


class Underlay:
    """Wires instances into one L3 underlay on a documentation subnet.

    Topology: a full mesh, one dummy link per pair of instances (the lower
    index listens with ``pstream=punix:``, the other connects with
    ``stream=unix:``). Each instance has a ``br-phy`` (datapath_type=dummy)
    holding its links, with a fixed ``other-config:hwaddr``, the host address
    (``netdev-dummy/ip4addr``), a route to the subnet, and a static neighbour
    entry for every peer, so nothing ever ARPs. br-phy forwards by static
    OpenFlow flows (to a peer's MAC -> that peer's link; from a link -> LOCAL),
    not NORMAL: a mesh of learning switches would loop broadcasts.

    Instance i (0-based) gets the (i+1)-th host address of ``subnet`` and MAC
    02:00:<a>:<b>:<c>:<d> built from that address.

    ``partition(a, b)`` / ``heal(a, b)`` cut and restore one link.
    """

    BRIDGE = "br-phy"
    PARTITION_COOKIE = "0x6c6162"

    def __init__(self, instances: Sequence[OvsInstance], subnet: str = "192.0.2.0/24") -> None:
        self.instances = list(instances)
        self.network = ipaddress.ip_network(subnet)
        hosts = self.network.hosts()
        self._ip: dict[str, str] = {}
        self._mac: dict[str, str] = {}
        for inst in self.instances:
            ip = next(hosts)
            self._ip[inst.name] = str(ip)
            self._mac[inst.name] = "02:00:" + ":".join(f"{b:02x}" for b in ip.packed)

    def ip_of(self, instance: OvsInstance) -> str:
        return self._ip[instance.name]

    def mac_of(self, instance: OvsInstance) -> str:
        return self._mac[instance.name]

    def link_name(self, peer: OvsInstance) -> str:
        """Name of the link port toward ``peer`` (on the other instance's br-phy)."""
        return f"ul-{peer.name}"[:15]

    def _link_sock(self, a: OvsInstance, b: OvsInstance) -> str:
        return os.path.join(a.workdir, f"ul-{b.name}.sock")

    def wire(self, timeout: float = 10.0) -> Underlay:
        """Create br-phy and the links on every instance, then wait until all
        links are connected."""
        for i, inst in enumerate(self.instances):
            inst.underlay = self
            args = ["--may-exist", "add-br", self.BRIDGE, "--", "set", "Bridge", self.BRIDGE,
                    "datapath_type=dummy", "fail_mode=secure",
                    f"other-config:hwaddr={self.mac_of(inst)}"]
            for j, peer in enumerate(self.instances):
                if peer is inst:
                    continue
                port = self.link_name(peer)
                if i < j:
                    opt = f"options:pstream=punix:{self._link_sock(inst, peer)}"
                else:
                    opt = f"options:stream={self._stream_target(peer, inst)}"
                args += ["--", "--may-exist", "add-port", self.BRIDGE, port,
                         "--", "set", "Interface", port, "type=dummy", opt]
            inst.vsctl(*args)
            self._apply_runtime(inst)
            if self._after_restart not in inst.restart_hooks:
                inst.restart_hooks.append(self._after_restart)
        self.wait_links(timeout)
        return self

    def _stream_target(self, listener: OvsInstance, connector: OvsInstance,
                       respell: bool = False) -> str:
        path = self._link_sock(listener, connector)
        if respell:
            path = os.path.join(os.path.dirname(path), ".", os.path.basename(path))
        return f"unix:{path}"

    def _after_restart(self, inst: OvsInstance, timeout: float = 10.0) -> None:
        """Re-apply runtime state and bring the restarted instance's links up now.

        A peer whose link connects to the restarted instance's socket would
        retry only after its reconnect back-off (~1 s) and may still report the
        old connection as up; spelling the same socket path differently makes
        it open a fresh connection at once.
        """
        self._apply_runtime(inst)
        me = self.instances.index(inst)
        for peer in self.instances[me + 1:]:
            port = self.link_name(inst)
            current = peer.vsctl("get", "Interface", port, "options:stream").strip().strip('"')
            respell = "/./" not in current
            peer.vsctl("set", "Interface", port,
                       f"options:stream={self._stream_target(inst, peer, respell)}")
        for peer in self.instances:
            if peer is not inst:
                wait_until(lambda peer=peer: self.link_connected(inst, peer), timeout, 0.01,
                           what=f"underlay link {inst.name}<->{peer.name}")

    def _apply_runtime(self, inst: OvsInstance) -> None:
        """State vswitchd keeps only in memory: address, route, neighbours, flows.
        Also re-run after a vswitchd restart."""
        plen = self.network.prefixlen
        inst.appctl("netdev-dummy/ip4addr", self.BRIDGE, f"{self.ip_of(inst)}/{plen}")
        inst.appctl("ovs/route/add", f"{self.network.network_address}/{plen}", self.BRIDGE)
        flows = ["table=0,priority=0,actions=drop"]
        for peer in self.instances:
            if peer is inst:
                continue
            inst.appctl("tnl/neigh/set", self.BRIDGE, self.ip_of(peer), self.mac_of(peer))
            link = self.link_name(peer)
            flows.append(f"table=0,priority=10,in_port=LOCAL,dl_dst={self.mac_of(peer)},"
                         f"actions=output:{link}")
            flows.append(f"table=0,priority=10,in_port={link},actions=LOCAL")
        # Fresh bridge or fresh vswitchd: there are no other flows and nothing cached.
        inst.add_flows(self.BRIDGE, flows, purge=False)

    def refresh_neighbors(self) -> None:
        """Re-seed the neighbour entries: OVS drops one unused for 15 min, and
        nothing on the dummy underlay would answer the ARP that follows."""
        for inst in self.instances:
            for peer in self.instances:
                if peer is not inst:
                    inst.appctl("tnl/neigh/set", self.BRIDGE, self.ip_of(peer),
                                self.mac_of(peer))

    def link_connected(self, inst: OvsInstance, peer: OvsInstance) -> bool:
        """True when ``inst``'s link toward ``peer`` is up (checked on the connecting side)."""
        a, b = sorted((inst, peer), key=self.instances.index)
        # b connects to a's pstream; conn-state only reports on the stream side
        out = b.appctl("netdev-dummy/conn-state", self.link_name(a))
        return "connected" in out

    def wait_links(self, timeout: float = 10.0) -> None:
        for i, a in enumerate(self.instances):
            for b in self.instances[i + 1:]:
                wait_until(lambda a=a, b=b: self.link_connected(a, b), timeout, 0.01,
                           what=f"underlay link {a.name}<->{b.name}")

    def partition(self, a: OvsInstance, b: OvsInstance) -> None:
        """Drop all underlay traffic between ``a`` and ``b`` (both directions)."""
        for x, y in ((a, b), (b, a)):
            x.add_flows(self.BRIDGE, [
                f"cookie={self.PARTITION_COOKIE},priority=100,in_port={self.link_name(y)},"
                "actions=drop",
                f"cookie={self.PARTITION_COOKIE},priority=100,dl_dst={self.mac_of(y)},"
                "actions=drop",
            ])

    def heal(self, a: OvsInstance, b: OvsInstance) -> None:
        for x, y in ((a, b), (b, a)):
            x.ofctl("--strict", "del-flows", self.BRIDGE,
                    f"priority=100,in_port={self.link_name(y)}")
            x.ofctl("--strict", "del-flows", self.BRIDGE,
                    f"priority=100,dl_dst={self.mac_of(y)}")
            x.purge_datapath()


def start_hosts(n: int, basedir: str, subnet: str = "192.0.2.0/24",
                prefix: str = "hv", bridges: Iterable[str] = ("br-int",)) -> list[OvsInstance]:
    """Start ``n`` instances under ``basedir`` (hv1, hv2, ...) wired by an Underlay.

    Instances start in parallel threads (the work is in the daemons, so this
    nearly halves the bring-up on two cores). On any failure the instances
    started so far are stopped again.
    """
    bridges = tuple(bridges)
    instances = [OvsInstance(f"{prefix}{i + 1}", os.path.join(basedir, f"{prefix}{i + 1}"))
                 for i in range(n)]
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(n, 4))) as pool:
            for future in [pool.submit(inst.start, bridges) for inst in instances]:
                future.result()
        Underlay(instances, subnet).wire()
    except BaseException:
        stop_hosts(instances)
        raise
    return instances


def stop_hosts(instances: Iterable[OvsInstance]) -> None:
    """Stop instances in parallel: each stop mostly waits for daemons to exit."""
    instances = list(instances)
    if not instances:
        return
    with ThreadPoolExecutor(max_workers=min(len(instances), 8)) as pool:
        for future in [pool.submit(inst.stop) for inst in instances]:
            future.result()
