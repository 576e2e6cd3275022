"""A small cloud in one process tree: ZooKeeper, N hypervisors (OVS on the
dummy datapath, wired by a dummy underlay) and one real agent per hypervisor.

Used by the functional tests, the benchmarks and the sandbox. ``Cloud``
owns nothing it did not start: everything is ended by PID in ``stop()``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid

from kazoo.client import KazooClient

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Host, Network, Port
from midonet_ryu.topology.router import NextHop, Route, Router
from midonet_ryu.topology.rules import (
    Chain,
    Condition,
    NatRuleData,
    NatTarget,
    Rule,
    RuleAction,
    RuleType,
)
from tools.lab.agent import AgentProcess
from tools.lab.netns import NetnsLab, NetnsVm
from tools.lab.ovs import OvsInstance, Underlay, VmPort
from tools.lab.procs import free_port, wait_until
from tools.lab.zookeeper import TemporaryZooKeeper, ZooKeeperServer


class Hypervisor:
    def __init__(self, name: str, ovs: OvsInstance, agent: AgentProcess, ip: str) -> None:
        self.name = name
        self.ovs = ovs
        self.agent = agent
        self.ip = ip

    @property
    def host_id(self) -> uuid.UUID:
        return self.agent.host_id


class Cloud:
    def __init__(self, n_hosts: int = 2, workdir: str | None = None,
                 zookeeper: ZooKeeperServer | None = None, root_key: str | None = None,
                 tunnel_type: str = "vxlan", agent_extra: dict | None = None,
                 netns: bool = False, cluster: bool = False,
                 cluster_sections: dict[str, dict[str, object]] | None = None,
                 host_extra: dict[str, dict[str, dict[str, str]]] | None = None) -> None:
        self.workdir = workdir or tempfile.mkdtemp(prefix="mr-cloud-")
        self._own_workdir = workdir is None
        self._own_zk = zookeeper is None
        self.zk = zookeeper
        self.root_key = root_key or f"/midonet-{uuid.uuid4().hex[:8]}"
        self.n_hosts = n_hosts
        self.tunnel_type = tunnel_type
        self.agent_extra = agent_extra or {}
        # options of one hypervisor's agent ("hv2"), over agent_extra
        self.host_extra = host_extra or {}
        # netns: hypervisors in network namespaces on the netdev datapath, with
        # VMs that have a kernel stack (real ping/TCP); else the dummy datapath.
        self.netns = netns
        self.netns_lab: NetnsLab | None = None
        # cluster: run a midonet-cluster (State Proxy) the agents discover
        self.with_cluster = cluster
        self.cluster_sections = cluster_sections
        self.cluster = None
        self.hosts: list[Hypervisor] = []
        self.client: KazooClient | None = None
        self.store: Store | None = None
        self.underlay: Underlay | None = None
        self._instances: list[OvsInstance] = []

    def start(self, wait_agents: bool = True) -> Cloud:
        try:
            if self.zk is None:
                self.zk = TemporaryZooKeeper().start()
            self.client = KazooClient(hosts=self.zk.hosts, timeout=10)
            self.client.start(timeout=15)
            self.store = Store(self.client, Paths(self.root_key))
            if self.with_cluster:
                from tools.lab.cluster import ClusterProcess

                self.cluster = ClusterProcess(self.zk.hosts, root=self.root_key,
                                              sections=self.cluster_sections).start()
            instances = self._instances
            if self.netns:
                self.netns_lab = NetnsLab(self.workdir, self.n_hosts).start()
                instances.extend(self.netns_lab.hosts)
                ips = {inst.name: self.netns_lab.ip_of(inst) for inst in instances}
            else:
                for i in range(self.n_hosts):
                    inst = OvsInstance(f"hv{i + 1}", os.path.join(self.workdir, f"hv{i + 1}"))
                    instances.append(inst)
                    inst.start()
                self.underlay = Underlay(instances).wire()
                ips = {inst.name: self.underlay.ip_of(inst) for inst in instances}
            for inst in instances:
                of_port = free_port()
                extra = {section: dict(values) for section, values in self.agent_extra.items()}
                for section, values in self.host_extra.get(inst.name, {}).items():
                    extra.setdefault(section, {}).update(values)
                if self.netns:
                    extra.setdefault("agent", {})["openflow_controller_target"] = (
                        inst.controller_relay(of_port))
                agent = AgentProcess(
                    os.path.join(self.workdir, f"agent-{inst.name}"), self.zk.hosts,
                    inst.ovsdb_connection, ips[inst.name], root_key=self.root_key,
                    tunnel_type=self.tunnel_type, extra=extra, of_port=of_port,
                    datapath_type="netdev" if self.netns else "dummy")
                self.hosts.append(Hypervisor(inst.name, inst, agent, ips[inst.name]))
            for hv in self.hosts:
                hv.agent.start(wait=False)
            if wait_agents:
                for hv in self.hosts:
                    self.wait_agent_ready(hv)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_agent_ready(self, hv: Hypervisor, timeout: float = 30.0) -> None:
        hv.agent.wait_listening(timeout)
        hv.agent.wait_log("agent ready", timeout)
        wait_until(lambda: self._status(hv).get("switch_connected"), timeout,
                   what=f"{hv.name}'s br-int to connect to its agent")
        wait_until(lambda: self.store.find(Host, hv.host_id) is not None, timeout,
                   what=f"{hv.name} registered")

    # -- topology helpers ------------------------------------------------------
    def network(self, name: str = "net", **fields) -> Network:
        return self.store.create(Network(id=uuid.uuid4(), name=name, **fields))

    def vm(self, hv: Hypervisor, network: Network, name: str, mac: str | None = None,
           bind_by: str = "name", **port_fields) -> tuple[Port, VmPort]:
        """A virtual port bound to ``hv`` and a VM plugged into its br-int.

        ``bind_by="name"`` binds by interface name; ``"iface-id"`` leaves the
        interface name out and tags the OVS interface with
        ``external_ids:iface-id`` instead, as OpenStack does.
        """
        port_id = uuid.uuid4()
        iface = name if bind_by == "name" else None
        port = self.store.create(Port(id=port_id, network_id=network.id, host_id=hv.host_id,
                                      interface_name=iface, **port_fields))
        vm = hv.ovs.add_vm_port(name, mac=mac,
                                iface_id=str(port_id) if bind_by == "iface-id" else None)
        return port, vm

    def router(self, name: str = "router", **fields) -> Router:
        return self.store.create(Router(id=uuid.uuid4(), name=name, **fields))

    def attach(self, router: Router, network: Network, address: str, subnet: str,
               mac: str | None = None) -> Port:
        """A router port at ``address`` on ``subnet``, linked to a new port of
        ``network``, in one transaction (as an API server would)."""
        rport = Port(id=uuid.uuid4(), router_id=router.id, port_address=address,
                     port_subnet=subnet, port_mac=mac or _mac_for(address))
        bport = Port(id=uuid.uuid4(), network_id=network.id)
        self.store.multi([("create", rport), ("create", bport.replace(peer_id=rport.id))])
        return self.store.get(Port, rport.id)

    def route(self, router: Router, dst: str, port: Port | None = None,
              gateway: str | None = None, next_hop: NextHop = NextHop.PORT,
              weight: int = 100, src: str = "0.0.0.0/0") -> Route:
        return self.store.create(Route(
            id=uuid.uuid4(), router_id=router.id, dst_subnet=dst, src_subnet=src,
            next_hop=next_hop, next_hop_port_id=port.id if port else None,
            next_hop_gateway=gateway, weight=weight))

    def chain(self, *rules: Rule, name: str = "chain") -> Chain:
        """A rule chain holding ``rules`` in order (one transaction)."""
        chain = Chain(id=uuid.uuid4(), name=name)
        ops = [("create", chain)] + [("create", r.replace(chain_id=chain.id)) for r in rules]
        self.store.multi(ops)
        return self.store.get(Chain, chain.id)

    def masquerading_router(self, private: Network, public: Network, name: str = "gw",
                            inside: str = "10.0.0.254", inside_subnet: str = "10.0.0.0/24",
                            outside: str = "203.0.113.1",
                            outside_subnet: str = "203.0.113.0/24") -> tuple[Router, Port]:
        """A router between ``private`` and ``public`` that masquerades the
        private subnet's sources as ``outside`` (SNAT to its ports 1024 and
        up) and translates the replies back; returns it and its uplink."""
        router = self.router(name)
        self.attach(router, private, inside, inside_subnet)
        uplink = self.attach(router, public, outside, outside_subnet)
        out_chain = self.chain(nat_rule(targets=(NatTarget(outside, outside, 1024, 65535),),
                                        out_port_ids=(uplink.id,), nw_src_ip=inside_subnet),
                               name=f"{name}-out")
        in_chain = self.chain(nat_rule(reverse=True, in_port_ids=(uplink.id,),
                                       nw_dst_ip=f"{outside}/32"), name=f"{name}-in")
        router = self.store.update(self.store.get(Router, router.id).replace(
            outbound_filter_id=out_chain.id, inbound_filter_id=in_chain.id))
        return router, uplink

    def kernel_vm(self, hv: Hypervisor, network: Network, name: str, cidr: str,
                  gateway: str | None = None, **port_fields) -> tuple[Port, NetnsVm]:
        """A VM with a kernel stack (netns clouds): bound by iface-id, as os-vif does."""
        port_id = uuid.uuid4()
        port = self.store.create(Port(id=port_id, network_id=network.id, host_id=hv.host_id,
                                      **port_fields))
        vm = hv.ovs.add_vm(name, cidr, iface_id=str(port_id), gateway=gateway)
        return port, vm

    def two_kernel_vms(self) -> tuple[Port, NetnsVm, Port, NetnsVm]:
        """VM A (198.51.100.1) on host 1 and VM B (.2) on host 2, one network
        (netns clouds), both bound and reachable from every agent."""
        hv1, hv2 = self.hosts[:2]
        net = self.network("n")
        pa, a = self.kernel_vm(hv1, net, "vma", "198.51.100.1/24")
        pb, b = self.kernel_vm(hv2, net, "vmb", "198.51.100.2/24")
        self.settle((hv1, pa), (hv2, pb))
        return pa, a, pb, b

    def settle(self, *placed: tuple[Hypervisor, Port], timeout: float = 15.0) -> None:
        """Each port bound by its host's agent, and every agent able to reach all."""
        for hv, port in placed:
            self.wait_bound(hv, port, timeout)
        self.wait_converged([port for _, port in placed], timeout)

    def wait_bound(self, hv: Hypervisor, port: Port, timeout: float = 15.0) -> None:
        hv.agent.wait_log(f"bound port {port.id}", timeout)

    @staticmethod
    def _status(hv: Hypervisor) -> dict:
        try:
            return hv.agent.ctl("status")
        except (OSError, RuntimeError, ValueError):
            return {}

    def switch_errors(self) -> dict[str, int]:
        """Messages each running agent's switch refused (should be none)."""
        errors = {}
        for hv in self.hosts:
            if hv.agent.alive():
                try:
                    errors[hv.name] = hv.agent.ctl("counters").get("switch_errors", 0)
                except (OSError, RuntimeError, ValueError):
                    continue
        return {name: n for name, n in errors.items() if n}

    def assert_no_switch_errors(self) -> None:
        errors = self.switch_errors()
        lines = [line for hv in self.hosts for line in hv.agent.log().splitlines()
                 if "refused a message" in line]
        assert not errors, f"switches refused agent messages: {errors}\n" + "\n".join(lines[:10])

    def knows(self, hv: Hypervisor, port: Port) -> bool:
        """``hv``'s agent can deliver to ``port`` (bound there, or reachable).
        An agent that loads the topology on demand and has not reached the
        port yet counts as able: it locates the port when a packet does."""
        try:
            ports = hv.agent.ctl("ports")
        except (OSError, RuntimeError, ValueError):
            return False
        pid = str(port.id)
        if pid in ports["local"]:
            return True
        if pid in ports["remote"]:
            return ports["remote"][pid].get("reachable", False)
        return bool(ports.get("on_demand")) and pid not in ports.get("unlocated", ())

    def wait_converged(self, ports: list[Port], timeout: float = 15.0) -> None:
        """Every running agent can deliver to every one of ``ports``."""
        for hv in self.hosts:
            if hv.agent.alive():
                for port in ports:
                    wait_until(lambda hv=hv, port=port: self.knows(hv, port), timeout,
                               what=f"{hv.name} to reach port {port.id}")

    def stop(self) -> None:
        for hv in self.hosts:
            try:
                hv.agent.stop()
            except Exception:  # noqa: BLE001 - keep tearing down
                pass
        if self.netns_lab is not None:
            self.netns_lab.stop()
        else:
            for inst in self._instances:
                inst.stop()
        if self.cluster is not None:
            self.cluster.stop()
        if self.client is not None:
            self.client.stop()
            self.client.close()
        if self._own_zk and self.zk is not None:
            self.zk.stop()
        if self._own_workdir and not os.environ.get("MR_LAB_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def rule(action: RuleAction = RuleAction.ACCEPT, **condition) -> Rule:
    """A literal rule with the given condition fields."""
    return Rule(id=uuid.uuid4(), action=action, condition=Condition(**condition))


def nat_rule(targets: tuple[NatTarget, ...] = (), dnat: bool = False, reverse: bool = False,
             action: RuleAction = RuleAction.ACCEPT, **condition) -> Rule:
    """A NAT rule: static 1:1 for a single address with no port range."""
    return Rule(id=uuid.uuid4(), type=RuleType.NAT_RULE, action=action,
                condition=Condition(**condition),
                nat_rule_data=NatRuleData(dnat=dnat, reverse=reverse, nat_targets=targets))


def _mac_for(address: str) -> str:
    """A stable locally administered MAC for a router port address."""
    import ipaddress

    packed = ipaddress.IPv4Address(address).packed
    return "02:ee:" + ":".join(f"{b:02x}" for b in packed)
