"""What a tenant of the lab's standard Neutron topology must see, proved with
kernel VMs: the same proofs whether Neutron itself built the topology or its
resources were sent to the cluster by hand.

The topology: ``vm1`` (198.51.100.10 on 198.51.100.0/25, hypervisor 1) and
``vm2`` (198.51.100.140 on 198.51.100.128/25, hypervisor 2) behind a router
whose gateway is 203.0.113.5 on the external network, where host ``ext``
(203.0.113.100) lives; floating IP 203.0.113.20 belongs to ``vm2``; both VMs
are in a security group that allows ICMP and TCP 22 in, and all out.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from tools.lab.netns import NetnsVm
from tools.lab.probes import Listener, tcp_connects
from tools.lab.procs import wait_until

VM1_IP, VM2_IP = "198.51.100.10", "198.51.100.140"
VM1_GATEWAY, VM2_GATEWAY = "198.51.100.1", "198.51.100.129"
EXT_IP, ROUTER_GATEWAY, FLOATING_IP = "203.0.113.100", "203.0.113.5", "203.0.113.20"
MTU = 1400


def _lease(vm: NetnsVm) -> dict[str, str] | None:
    try:
        return vm.dhcp(timeout=3)
    except RuntimeError:
        return None


def prove_dhcp(vm1: NetnsVm, vm2: NetnsVm, timeout: float = 20.0) -> None:
    leases = [wait_until(lambda vm=vm: _lease(vm), timeout, interval=0.5,
                         what=f"{vm.name}'s DHCP lease") for vm in (vm1, vm2)]
    got = [(lease["ip"], lease["router"], lease["mask"], lease["mtu"])  # type: ignore[index]
           for lease in leases]
    assert got == [(VM1_IP, VM1_GATEWAY, "25", str(MTU)),
                   (VM2_IP, VM2_GATEWAY, "25", str(MTU))], got


def prove_traffic(vm1: NetnsVm, vm2: NetnsVm, ext: NetnsVm,
                  remove_tcp_22: Callable[[], None]) -> float:
    """Every claim of the module's docstring; then ``remove_tcp_22`` takes the
    group's TCP 22 rule away and new connections must fail within a second.
    Returns how long that took, in seconds."""
    wait_until(lambda: vm1.ping(VM2_IP), 15, what="vm1 to ping vm2 across the router")
    listeners = [Listener(vm2, 22), Listener(vm2, 23), Listener(ext, 8080)]
    try:
        ssh, telnet, outside = listeners
        assert tcp_connects(vm1, VM2_IP, 22), "TCP 22 is allowed"
        assert not tcp_connects(vm1, VM2_IP, 23, timeout=1.0), "TCP 23 is not"
        assert telnet.peers(0.1) == []
        # out through SNAT: the outside sees the router's gateway address
        wait_until(lambda: tcp_connects(vm1, EXT_IP, 8080), 10, what="vm1 to reach ext")
        assert outside.peers() == [ROUTER_GATEWAY]
        # in through the floating IP, and vm2 goes out as it
        wait_until(lambda: ext.ping(FLOATING_IP), 10, what="ext to ping the floating IP")
        assert tcp_connects(ext, FLOATING_IP, 22)
        assert ssh.peers()[-1] == EXT_IP
        assert tcp_connects(vm2, EXT_IP, 8080)
        assert outside.peers() == [FLOATING_IP]
        # the rule goes: new connections fail within a second, ping still flows
        assert tcp_connects(vm1, VM2_IP, 22)
        started = time.monotonic()
        remove_tcp_22()
        wait_until(lambda: not tcp_connects(vm1, VM2_IP, 22, timeout=0.2), 5,
                   interval=0.01, what="TCP 22 to be cut")
        took = time.monotonic() - started
        assert took < 1.0, f"TCP 22 was cut after {took:.2f} s"
        assert vm1.ping(VM2_IP)
        return took
    finally:
        for listener in listeners:
            listener.stop()
