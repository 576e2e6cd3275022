"""Hypervisors in network namespaces: netdev datapath, veth underlay, VMs with a
real kernel IP stack, for end-to-end checks with ping and TCP.

Why namespaces: the dummy datapath (tools.lab.ovs) carries frames a test
builds by hand; to see real ARP, ICMP and TCP behaviour the VMs need a kernel
stack, and a userspace (netdev) datapath needs real veth ports for that. An
ovs-vswitchd with ``datapath_type=netdev`` owns an ``ovs-netdev`` tap, so only
one can run per network namespace: each hypervisor gets its own.

Layout:

- hypervisor = netns ``mr-<name>-<token>`` running ovs-vswitchd
  (``--disable-system``; ovsdb-server runs outside, only a unix socket is
  shared), ``br-int`` (netdev, fail_mode=secure) and ``br-phy`` (netdev,
  NORMAL, fixed ``other-config:hwaddr``) holding the underlay NIC ``ul0``;
  the host address sits on the br-phy tap, so OVS learns the underlay route
  from the namespace's kernel table.
- underlay: two hypervisors are joined by one veth pair; three or more by a
  Linux bridge in a switch namespace (a star). Every hypervisor gets a static
  ``tnl/neigh/set`` entry for every peer, else the first ~1 s of tunnelled
  packets is lost while OVS ARPs.
- VM = its own netns with ``eth0``, the other end of a veth plugged into the
  hypervisor's br-int. ``ethtool -K eth0 tx off`` runs in every VM: the
  userspace datapath does not complete partial checksums, so TCP would stall.

Controllers: ovs-vswitchd in a namespace cannot reach the test's 127.0.0.1,
and it refuses a ``unix:`` controller outside its OVS_RUNDIR.
``NetnsHypervisor.controller_relay(port)`` starts a socat relay in the root
namespace from ``<rundir>/of-<port>.sock`` to ``tcp:127.0.0.1:<port>`` and
returns the ``unix:`` target to give to ``set-controller``. (Unix sockets are
files, so they cross namespaces; OVSDB is reached the same way.)

Teardown: ``ovs-appctl exit --cleanup`` (else the netdev taps stay), then
the namespaces this module created, and only those, are deleted.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from tools.lab.ovs import (
    OvsCommandError,
    OvsInstance,
    forget_pid,
    register_pid,
    stable_mac,
)
from tools.lab.procs import end_pid, end_process_group, pid_alive, wait_until

# Namespaces this module created and has not yet deleted (for the tidy check).
LAB_NETNS: set[str] = set()

_AVAILABLE: str | None | bool = False  # False = not probed yet


def _run(argv: Sequence[str], timeout: float = 10.0, check: bool = True,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          input=input)
    if check and proc.returncode != 0:
        raise OvsCommandError(f"{' '.join(argv)}: exit {proc.returncode}: "
                              f"{proc.stderr.strip()}")
    return proc


def ip(*args: str, ns: str | None = None) -> str:
    """``ip`` (``ip -n NS`` with ``ns``)."""
    return _run(["ip", *(["-n", ns] if ns else []), *args]).stdout


def netns_unavailable() -> str | None:
    """Why the namespace lab cannot run here (a skip reason), or None.

    Probes once per process by creating and deleting a namespace.
    """
    global _AVAILABLE
    if _AVAILABLE is not False:
        return _AVAILABLE  # type: ignore[return-value]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "the namespace lab needs root"
    else:
        missing = [t for t in ("ip", "ethtool", "socat", "ovs-vswitchd") if not shutil.which(t)]
        if missing:
            reason = f"missing tools: {', '.join(missing)}"
        else:
            probe = f"mr-probe-{secrets.token_hex(3)}"
            try:
                _run(["ip", "netns", "add", probe])
                _run(["ip", "netns", "delete", probe])
            except (OvsCommandError, OSError, subprocess.TimeoutExpired) as e:
                reason = f"ip netns is not usable here: {e}"
    _AVAILABLE = reason
    return reason


def create_netns(prefix: str) -> str:
    """A new namespace named ``<prefix>-<token>`` with loopback up."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    _run(["ip", "netns", "add", name])
    LAB_NETNS.add(name)
    ip("link", "set", "lo", "up", ns=name)
    return name


def delete_netns(name: str) -> None:
    """Delete a namespace this module created (never any other)."""
    if name not in LAB_NETNS:
        raise ValueError(f"{name} was not created by the lab")
    _run(["ip", "netns", "delete", name], check=False)
    LAB_NETNS.discard(name)


def leftover_netns() -> set[str]:
    """Namespaces the lab created that still exist."""
    existing = set(_run(["ip", "netns", "list"], check=False).stdout.split())
    return LAB_NETNS & existing


# udhcpc's event script: apply a lease with ip(8) and print it for the lab
_UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$1" = "0.0.0.0/0" ]; then ip route replace default via "$2"
        else ip route replace "$1" via "$2"; fi
        shift 2
      done
    elif [ -n "$router" ]; then
      ip route replace default via "${router%% *}"
    fi
    for k in ip mask router mtu staticroutes dns serverid lease; do
      eval "v=\$$k"; echo "lease:$k=$v"
    done ;;
esac
exit 0
"""


class NetnsVm:
    """A VM: a namespace whose ``eth0`` is a veth into a hypervisor's bridge."""

    def __init__(self, host: NetnsHypervisor, name: str, cidr: str | None, mac: str,
                 port: str, netns: str) -> None:
        self.host = host
        self.name = name
        self.cidr = cidr or ""
        self.ip = self.cidr.split("/")[0]
        self.mac = mac
        self.port = port
        self.netns = netns
        self.ofport = -1

    def __repr__(self) -> str:
        return f"NetnsVm({self.name}, {self.cidr}, on {self.host.name}, ofport={self.ofport})"

    def exec(self, *cmd: str, timeout: float = 10.0, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the VM's namespace."""
        return _run(["ip", "netns", "exec", self.netns, *cmd], timeout=timeout, check=check,
                    input=input)

    def popen(self, *cmd: str, **kwargs: object) -> subprocess.Popen:
        """Start a long-running command in the VM (the caller ends it by PID)."""
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *cmd], **kwargs)  # type: ignore[call-overload]

    def ping(self, dst: str, count: int = 1, timeout: float = 2.0,
             interval: float = 0.2) -> bool:
        """True when ``count`` echo requests to ``dst`` all got replies."""
        proc = self.exec("ping", "-n", "-q", "-c", str(count), "-i", str(interval),
                         "-W", f"{timeout:g}", dst,
                         timeout=timeout + count * interval + 5, check=False)
        return proc.returncode == 0

    def dhcp(self, timeout: float = 15.0) -> dict[str, str]:
        """Configure ``eth0`` by DHCP, as a cloud image does: busybox's udhcpc
        asks (also for option 121), a script applies the lease with ``ip``.
        Returns what the lease said (``ip``, ``mask``, ``router``, ``mtu``,
        ``staticroutes``...); raises when no server answered in time."""
        script = os.path.join(self.host.workdir, f"udhcpc-{self.name}.sh")
        with open(script, "w") as f:
            f.write(_UDHCPC_SCRIPT)
        os.chmod(script, 0o755)
        tries = max(1, int(timeout))
        proc = self.exec("busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
                         "-t", str(tries), "-T", "1", "-O", "staticroutes", "-O", "mtu",
                         "-s", script, timeout=timeout + 5, check=False)
        lease = dict(line.split("=", 1) for line in proc.stdout.splitlines()
                     if line.startswith("lease:") and "=" in line)
        lease = {k[len("lease:"):]: v for k, v in lease.items()}
        if proc.returncode != 0 or "ip" not in lease:
            raise RuntimeError(f"{self.name}: no DHCP lease (udhcpc exit {proc.returncode}): "
                               f"{proc.stdout[-500:]} {proc.stderr[-500:]}")
        self.ip = lease["ip"]
        self.cidr = f"{lease['ip']}/{lease.get('mask', '32')}"
        return lease

    def delete(self) -> None:
        if self.netns in LAB_NETNS:
            delete_netns(self.netns)


class NetnsHypervisor(OvsInstance):
    """An OvsInstance whose ovs-vswitchd runs in its own network namespace with
    the netdev datapath. ``underlay_cidr`` goes on the br-phy tap."""

    VSWITCHD_FLAGS = ("--disable-system",)
    DATAPATH_TYPE = "netdev"

    def __init__(self, name: str, workdir: str, underlay_cidr: str,
                 mac: str | None = None) -> None:
        super().__init__(name, workdir)
        self.underlay_cidr = underlay_cidr
        self.underlay_ip = underlay_cidr.split("/")[0]
        self.mac = mac or "02:00:" + ":".join(
            f"{b:02x}" for b in ipaddress.ip_address(self.underlay_ip).packed)
        self.netns: str | None = None
        self.vms: dict[str, NetnsVm] = {}
        self.neighbors: dict[str, str] = {}
        self._relays: list[subprocess.Popen] = []
        self.restart_hooks.append(lambda _inst: self._apply_runtime())

    def __repr__(self) -> str:
        return f"NetnsHypervisor({self.name!r}, netns={self.netns!r})"

    def _vswitchd_prefix(self) -> list[str]:
        assert self.netns, "start() creates the namespace first"
        return ["ip", "netns", "exec", self.netns]

    def start(self, bridges: Iterable[str] = ("br-int",)) -> NetnsHypervisor:
        """Namespace, daemons, ``bridges`` (secure) and br-phy with the host address."""
        self.netns = create_netns(f"mr-{self.name}")
        try:
            super().start(bridges)
            self.add_bridge("br-phy", fail_mode=None, hwaddr=self.mac)
            self._apply_runtime()
        except BaseException:
            self.stop()
            raise
        return self

    def _apply_runtime(self) -> None:
        """Host address on the br-phy tap and neighbour entries (again after a restart)."""
        have = ip("-o", "addr", "show", "dev", "br-phy", ns=self.netns)
        if self.underlay_cidr not in have:
            ip("addr", "add", self.underlay_cidr, "dev", "br-phy", ns=self.netns)
        ip("link", "set", "br-phy", "up", ns=self.netns)
        for peer_ip, peer_mac in self.neighbors.items():
            self.appctl("tnl/neigh/set", "br-phy", peer_ip, peer_mac)

    def add_neighbor(self, peer_ip: str, peer_mac: str) -> None:
        """Static underlay neighbour, so tunnelled packets never wait for ARP."""
        self.neighbors[peer_ip] = peer_mac
        self.appctl("tnl/neigh/set", "br-phy", peer_ip, peer_mac)

    def add_underlay_nic(self, ifname: str = "ul0") -> None:
        """Plug an interface already in this namespace into br-phy."""
        ip("link", "set", ifname, "up", ns=self.netns)
        self.vsctl("--may-exist", "add-port", "br-phy", ifname)
        self.ofport(ifname)

    def add_vm(self, name: str, cidr: str | None, mac: str | None = None,
               bridge: str = "br-int",
               iface_id: str | None = None, gateway: str | None = None,
               mtu: int | None = None) -> NetnsVm:
        """A VM namespace with ``eth0`` at ``cidr``, plugged into ``bridge``.

        The hypervisor-side veth is ``tap<name>`` (15 characters at most) and
        carries ``external_ids:iface-id`` like an os-vif plug when given.
        """
        mac = mac or stable_mac(self.name, name)
        port = f"tap{name}"[:15]
        vm_ns = create_netns(f"mr-{name}")
        vm = NetnsVm(self, name, cidr, mac, port, vm_ns)
        self.vms[name] = vm
        ip("link", "add", port, "netns", self.netns, "type", "veth",
           "peer", "name", "eth0", "netns", vm_ns)
        cmds = [f"link set eth0 address {mac}", "link set eth0 up"]
        if cidr:  # else the VM asks DHCP (NetnsVm.dhcp)
            cmds.insert(1, f"addr add {cidr} dev eth0")
        if mtu:
            cmds.append(f"link set eth0 mtu {mtu}")
        if gateway:
            cmds.append(f"route add default via {gateway}")
        _run(["ip", "-n", vm_ns, "-batch", "-"], input="\n".join(cmds) + "\n")
        vm.exec("ethtool", "-K", "eth0", "tx", "off")
        ip("link", "set", port, "up", ns=self.netns)
        args = ["--may-exist", "add-port", bridge, port, "--", "set", "Interface", port,
                f'external_ids:attached-mac="{mac}"']
        if iface_id:
            args += [f'external_ids:iface-id="{iface_id}"', "external_ids:iface-status=active"]
        if not self.has_bridge(bridge):
            self.add_bridge(bridge)
        self.vsctl(*args)
        vm.ofport = self.ofport(port)
        return vm

    def migrate_vm(self, name: str, other: NetnsHypervisor, bridge: str = "br-int") -> NetnsVm:
        """A live migration: the VM's namespace, and the connections in it,
        stay; its hypervisor-side veth moves to ``other``'s namespace and
        bridge, with the same ``external_ids``. The NSDB binding is the
        caller's to move."""
        assert self.netns and other.netns, "both hypervisors are started"
        vm = self.vms.pop(name)
        ids = self.vsctl("get", "Interface", vm.port, "external_ids").strip()
        self.vsctl("del-port", bridge, vm.port)
        ip("link", "set", vm.port, "netns", other.netns, ns=self.netns)
        ip("link", "set", vm.port, "up", ns=other.netns)
        other.vsctl("--may-exist", "add-port", bridge, vm.port, "--", "set", "Interface",
                    vm.port, f"external_ids={ids}")
        vm.host = other
        other.vms[name] = vm
        vm.ofport = other.ofport(vm.port)
        return vm

    def controller_relay(self, tcp_port: int, host: str = "127.0.0.1") -> str:
        """Make a controller listening on the root namespace's ``host:tcp_port``
        reachable from this hypervisor's vswitchd; returns the ``unix:`` target
        for ``ovs-vsctl set-controller``."""
        path = os.path.join(self.workdir, f"of-{tcp_port}.sock")
        proc = subprocess.Popen(
            ["socat", f"UNIX-LISTEN:{path},fork,unlink-early", f"TCP:{host}:{tcp_port},nodelay"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.workdir, f"socat-{tcp_port}.log"), "ab"),
            start_new_session=True)
        register_pid(proc.pid, f"socat relay of {self.name}")
        self._relays.append(proc)
        wait_until(lambda: os.path.exists(path), 5.0, 0.01, what=f"relay socket {path}")
        return f"unix:{path}"

    def _end_relays(self) -> None:
        for proc in self._relays:
            end_process_group(proc)
            forget_pid(proc.pid)
        self._relays.clear()

    def stop(self) -> None:
        """VMs, relays, ``exit --cleanup`` of vswitchd, ovsdb-server, the namespace."""
        for vm in list(self.vms.values()):
            vm.delete()
        self.vms.clear()
        self._end_relays()
        pid = self.vswitchd_pid
        if pid:
            try:
                self.appctl("exit", "--cleanup")
            except OvsCommandError:
                pass
            deadline = time.monotonic() + 5.0
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            end_pid(pid)  # no-op when it already exited
            forget_pid(pid)
            self.vswitchd_pid = None
        super().stop()
        if self.netns:
            delete_netns(self.netns)
            self.netns = None


class NetnsLab:
    """N hypervisors (hv1..hvN) on one underlay, ready for VMs.

    ``subnet`` is the underlay; hypervisor i gets its (i+1)-th host address.
    """

    def __init__(self, workdir: str, n: int = 2, subnet: str = "192.0.2.0/24",
                 underlay_mtu: int = 1600) -> None:
        if n < 1:
            raise ValueError("a lab has at least one hypervisor")
        self.workdir = workdir
        self.network = ipaddress.ip_network(subnet)
        addrs = self.network.hosts()
        plen = self.network.prefixlen
        self.hosts = [NetnsHypervisor(f"hv{i + 1}", os.path.join(workdir, f"hv{i + 1}"),
                                      f"{next(addrs)}/{plen}") for i in range(n)]
        self.switch_ns: str | None = None
        # Room for VXLAN/GRE/Geneve headers around a 1500-byte VM frame: the
        # kernel refuses to send a frame larger than the veth's MTU.
        self.underlay_mtu = underlay_mtu

    def ip_of(self, host: NetnsHypervisor) -> str:
        return host.underlay_ip

    def start(self) -> NetnsLab:
        try:
            with ThreadPoolExecutor(max_workers=min(len(self.hosts), 4)) as pool:
                for future in [pool.submit(h.start) for h in self.hosts]:
                    future.result()
            self._wire()
        except BaseException:
            self.stop()
            raise
        return self

    def _wire(self) -> None:
        mtu = str(self.underlay_mtu)
        if len(self.hosts) == 2:
            a, b = self.hosts
            ip("link", "add", "ul0", "mtu", mtu, "netns", a.netns,  # type: ignore[arg-type]
               "type", "veth", "peer", "name", "ul0", "mtu", mtu,
               "netns", b.netns)  # type: ignore[arg-type]
        elif len(self.hosts) > 2:
            self.switch_ns = create_netns("mr-switch")
            ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
               ns=self.switch_ns)
            ip("link", "set", "br0", "up", ns=self.switch_ns)
            for i, h in enumerate(self.hosts):
                peer = f"p{i + 1}"
                ip("link", "add", "ul0", "mtu", mtu, "netns", h.netns,  # type: ignore[arg-type]
                   "type", "veth", "peer", "name", peer, "mtu", mtu, "netns", self.switch_ns)
                ip("link", "set", peer, "master", "br0", "up", ns=self.switch_ns)
        for h in self.hosts:
            if len(self.hosts) > 1:
                h.add_underlay_nic("ul0")
            for peer in self.hosts:
                if peer is not h:
                    h.add_neighbor(peer.underlay_ip, peer.mac)

    def stop(self) -> None:
        """Everything, in parallel per hypervisor; then the switch namespace."""
        started = [h for h in self.hosts if h.netns or h.pids]
        if started:
            with ThreadPoolExecutor(max_workers=min(len(started), 4)) as pool:
                for future in [pool.submit(h.stop) for h in started]:
                    future.result()
        if self.switch_ns:
            delete_netns(self.switch_ns)
            self.switch_ns = None
