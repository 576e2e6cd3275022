"""The host agent: one per hypervisor, the I/O shell around the core.

It owns the sockets and threads: OpenFlow to the local integration bridge
(through OS-Ken), OVSDB (ovsdbapp) and ZooKeeper (kazoo). Decisions are the
core's: ``midonet_ryu.simulation`` says where a packet goes,
``midonet_ryu.datapath`` says how that looks in OpenFlow and which flows a
change invalidates, ``midonet_ryu.nsdb`` keeps topology and state current.

Concurrency: eventlet. OS-Ken handlers, kazoo callbacks and the agent's
worker are green threads of one OS thread; kazoo callbacks only queue work
for the worker, and a simulation never yields, so it sees one consistent
topology.
"""
from __future__ import annotations

import collections
import gc
import ipaddress
import itertools
import logging
import os
import socket
import time
import uuid
from typing import Any

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (
    CONFIG_DISPATCHER,
    DEAD_DISPATCHER,
    MAIN_DISPATCHER,
    set_ev_cls,
)
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from apps import config as agent_config
from apps import control
from apps.host_identity import resolve_host_id
from apps.ovsdb import TUNNEL_PORT_NAMES, Ovsdb
from midonet_ryu.datapath import ofwire
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.agent_state import (
    AgentState,
    IntKeyedIPv4,
    RouterArpView,
    TableKey,
    nsdb_arp_entry,
    table_change_tags,
)
from midonet_ryu.datapath.flow_index import FlowIndex, FlowRecord
from midonet_ryu.datapath.local_ports import LocalBinding, desired_bindings
from midonet_ryu.datapath.messages import delete_by_cookie
from midonet_ryu.datapath.translate import (
    LocalPort,
    RemotePort,
    Untranslatable,
    build_actions,
    build_match,
)
from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.client import make_client, start_with_retry
from midonet_ryu.nsdb.nat_lease import NatLeaser
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.remote_ports import RemotePorts
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.store import Store
from midonet_ryu.nsdb.topology_cache import TopologyCache
from midonet_ryu.simulation import tags
from midonet_ryu.simulation.engine import simulate, simulate_generated
from midonet_ryu.simulation.packet import MalformedPacket, parse_frame
from midonet_ryu.simulation.result import MacLearned, ResultKind, SimulationResult, ToPort
from midonet_ryu.simulation.rewrite import apply_actions
from midonet_ryu.simulation.state import SNAT_BLOCK_SIZE, NatKey, NatKeyType
from midonet_ryu.stateproxy.client import StateTableProvider
from midonet_ryu.topology import base as model_base
from midonet_ryu.topology.model import Port, TunnelZone, TunnelZoneType

LOG = logging.getLogger(__name__)

GENERATION_KEY = "midonet-generation"
SYNC_INTERVAL = 1.0
ARP_RETRY_INTERVAL = 1.0  # seconds between ARP requests for one next hop
ARP_MEMORY = 4096
XID_MEMORY = 8192
MAX_GENERATED_DEPTH = 4


class MidonetAgent(app_manager.OSKenApp):
    OFP_VERSIONS = [ofp.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conf = agent_config.conf()
        c = self.conf
        # bound what waits for the handlers (os-ken's default is 128 events)
        self.events = hub.Queue(c.agent.packet_in_queue_size)
        self._events_sem = hub.BoundedSemaphore(self.events.maxsize)
        self.host_id = resolve_host_id(c.host.host_id, c.host.host_id_file)
        self.hostname = c.host.hostname or socket.gethostname()
        self.paths = Paths(c.zookeeper.root_key)
        self.bridge = c.agent.integration_bridge
        self.datapath: Any = None
        self.generation = 0
        self.bindings: dict[uuid.UUID, LocalBinding] = {}
        self.ofport_to_port: dict[int, uuid.UUID] = {}
        self.tunnel_ofports: dict[str, int] = {}
        self.flows = FlowIndex()
        self.counters: collections.Counter = collections.Counter()
        self.ready = False
        self._serial = itertools.count(1)
        self._work: collections.deque = collections.deque(maxlen=100_000)
        self._wake = hub.Event()
        self._pending_learn: set[tuple] = set()
        self._pending_leases: set[tuple] = set()
        self._snat_ranges: dict[tuple, Any] = {}  # last block request per (device, ip)
        # ARP requests a router generated lately, by (port, target): a stale
        # entry must not make every simulation send one
        self._arp_sent: collections.OrderedDict = collections.OrderedDict()
        # cookies of recent flow-mods by xid, so a refused one leaves the index
        self._xid_cookie: collections.OrderedDict = collections.OrderedDict()
        self._stale_generations: set[int] = set()
        self.ovsdb: Ovsdb | None = None
        self.zk = None
        self.store: Store | None = None
        self.keys: StateKeys | None = None
        self.cache: TopologyCache | None = None
        self.tables: StateTableProvider | None = None
        self._table_objs: dict[TableKey, Any] = {}
        self.state = AgentState(lambda key: self._enqueue("table", key))
        self.remote: RemotePorts | None = None
        self.leaser: NatLeaser | None = None
        self.flow_state: Any = None

    # -- lifecycle -----------------------------------------------------------
    def start(self):
        thread = super().start()
        self.threads.append(hub.spawn(self._boot))
        return thread

    def close(self) -> None:
        self.release()
        super().close()

    def release(self) -> None:
        """Close the sessions that outlive the process: ZooKeeper (so this
        host's ephemeral nodes go at once) and OVSDB."""
        LOG.info("agent stopping")
        self.ready = False
        if getattr(self, "_control", None) is not None:
            self._control.close()
        if self.tables is not None:
            try:
                self.tables.stop()
            except Exception:  # noqa: BLE001 - shutting down regardless
                LOG.debug("stopping the state tables failed", exc_info=True)
            self.tables = None
        if self.zk is not None:
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:  # noqa: BLE001 - shutting down regardless
                LOG.debug("closing ZooKeeper failed", exc_info=True)
            self.zk = None
        if self.ovsdb is not None:
            self.ovsdb.close()
            self.ovsdb = None

    def _boot(self) -> None:
        try:
            self._boot_steps()
        except Exception:  # noqa: BLE001 - half a boot is worse than none
            LOG.critical("agent failed to start", exc_info=True)
            logging.shutdown()
            os._exit(1)

    def _boot_steps(self) -> None:
        c = self.conf
        controller = c.agent.openflow_controller_target or (
            f"tcp:{c.agent.openflow_listen_address}:{c.agent.openflow_listen_port}")
        self.ovsdb = Ovsdb(c.agent.ovsdb_connection, c.agent.ovsdb_timeout)
        self.ovsdb.ensure_integration_bridge(self.bridge, c.agent.datapath_type, controller,
                                             c.agent.packet_in_rate_limit,
                                             c.agent.packet_in_burst_limit)
        for ttype in TUNNEL_PORT_NAMES:
            self.ovsdb.ensure_tunnel_port(self.bridge, ttype)
        previous = self.ovsdb.bridge_external_id(self.bridge, GENERATION_KEY)
        prev_gen = int(previous) if previous and previous.isdigit() else 0
        self.generation = (prev_gen + 1) & 0xFFFF or 1
        self.ovsdb.set_bridge_external_id(self.bridge, GENERATION_KEY, str(self.generation))
        LOG.info("host %s (%s), flow generation %d", self.host_id, self.hostname,
                 self.generation)

        from kazoo.handlers.eventlet import SequentialEventletHandler

        self.zk = make_client(c.zookeeper.zookeeper_hosts, c.zookeeper.session_timeout,
                              handler=SequentialEventletHandler())
        start_with_retry(self.zk, retry_interval=c.zookeeper.connect_retry_interval,
                         sleep=hub.sleep)
        self.zk.add_listener(self._zk_state)
        self.store = Store(self.zk, self.paths)
        self.keys = StateKeys(self.zk, self.paths, self.host_id)
        hosts.register_host(self.store, self.keys, self.host_id, self.hostname)
        self._join_tunnel_zones()
        self.remote = RemotePorts(self.zk, self.paths, self._remote_port_changed)
        # State tables through the cluster's State Proxy (differential updates),
        # falling back to ZooKeeper while no proxy answers; writes always go
        # to ZooKeeper. [state_proxy] enabled = false reads ZooKeeper directly.
        self.tables = StateTableProvider(self.zk, self.paths, c.state_proxy)
        self.leaser = NatLeaser(self.zk, self.paths)
        self.cache = TopologyCache(self.zk, self.paths, model_base.model_classes().values(),
                                   self._topology_changed)
        self.cache.start()
        # The topology is long-lived: keep it out of the cyclic collector's
        # generations so full collections do not pause packet handling.
        gc.collect()
        gc.freeze()
        self.flow_state = _flow_state_shell(self)  # after the cache: it reads the topology
        self._control = control.serve(c.agent.control_socket, self._inspect, hub.spawn)
        self.ready = True
        LOG.info("agent ready: %d ports, %d networks in the topology",
                 self.cache.count(Port), sum(1 for _ in self.cache.objects(
                     model_base.model_class("Network"))))
        self._enqueue("sync")
        self.threads.append(hub.spawn(self._periodic))
        self.threads.append(hub.spawn(self._worker))

    def _join_tunnel_zones(self) -> None:
        c = self.conf.agent
        zones = list(c.tunnel_zones) or ["default"]
        zone_type = TunnelZoneType(c.tunnel_type)
        for zone in zones:
            ip = c.tunnel_zone_underlay.get(zone) or agent_config.underlay_ip(self.conf)
            if not ip:
                LOG.error("no underlay address for tunnel zone %s: set [agent] underlay_ip",
                          zone)
                continue
            hosts.join_tunnel_zone(self.store, zone, self.host_id, ip, zone_type)
            LOG.info("member of tunnel zone %s at %s", zone, ip)

    def _zk_state(self, state: str) -> None:
        """Session events: keep forwarding and simulating on the cached topology
        through any outage; only report being degraded meanwhile."""
        if state == "CONNECTED":
            LOG.warning("ZooKeeper connection restored")
        else:
            LOG.warning("ZooKeeper connection %s: degraded, serving from the cached "
                        "topology", state)
        if state == "LOST":
            self.counters["zookeeper_sessions_lost"] += 1
            self._enqueue("session_lost")

    # -- inspection ----------------------------------------------------------
    def _inspect(self, req: dict) -> Any:
        cmd = req.get("cmd")
        if cmd == "status":
            nsdb = self.zk.state if self.zk else None
            return {"host_id": self.host_id, "ready": self.ready,
                    "switch_connected": self.datapath is not None,
                    "zookeeper": nsdb, "degraded": nsdb != "CONNECTED",
                    "state_proxy": (self.tables.proxy.state if self.tables is not None
                                    and self.tables.proxy is not None else "disabled"),
                    "generation": self.generation, "flows": len(self.flows),
                    "local_ports": len(self.bindings)}
        if cmd == "ports":
            return {
                "local": {str(p): {"interface": b.interface, "ofport": b.ofport,
                                   "tunnel_key": b.tunnel_key}
                          for p, b in self.bindings.items()},
                "remote": {str(p): {"host_id": str(h), "tunnel_key": k,
                                    "reachable": self.locate(p) is not None}
                           for p, (h, k) in (self.remote.active.items()
                                             if self.remote else [])},
            }
        if cmd == "flows":
            return [{"cookie": hex(r.cookie), "match": _describe_match(r.match),
                     "tags": sorted(map(str, r.tags)), "simulation": _describe(r.summary)}
                    for r in self.flows.records()]
        if cmd == "counters":
            return dict(self.counters)
        raise ValueError(f"unknown command {cmd!r}; try status, ports, flows, counters")

    # -- work queue ----------------------------------------------------------
    def _enqueue(self, *item: Any) -> None:
        self._work.append(item)
        self._wake.set()

    def _periodic(self) -> None:
        while True:
            hub.sleep(SYNC_INTERVAL)
            self._enqueue("sync")
            expired = self.state.local.expire(time.time())
            if expired:
                self.counters["state_keys_expired"] += expired

    def _worker(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._work:
                item = self._work.popleft()
                try:
                    self._handle_work(item)
                except Exception:  # noqa: BLE001 - keep the agent serving
                    self.counters["worker_errors"] += 1
                    LOG.exception("agent work item %s failed", item[0])

    def _handle_work(self, item: tuple) -> None:
        kind = item[0]
        if kind == "sync":
            self._sync_ports()
        elif kind == "invalidate":
            self._invalidate(item[1])
        elif kind == "table":
            self._subscribe_table(item[1])
        elif kind == "learn":
            self._write_learned(item[1])
        elif kind == "snat":
            self._lease_snat(item[1])
        elif kind == "session_lost":
            self._recover_session()

    # -- topology and state changes -------------------------------------------
    def _topology_changed(self, kind: str, obj_id: uuid.UUID, old: Any, new: Any) -> None:
        """Invalidate what depended on the object and on the devices holding it.

        A route, rule, port or pool member changes its parent's behaviour, so
        every single-valued reference of the object (router_id, chain_id,
        network_id, ...) is treated as a changed device too.
        """
        changed = {tags.device(obj_id)}
        for obj in (old, new):
            if obj is None:
                continue
            for name in obj.__dataclass_fields__:
                value = getattr(obj, name)
                if isinstance(value, uuid.UUID) and name != "id":
                    changed.add(tags.device(value))
        if kind == "Port":
            changed.add(tags.port(obj_id))
            self._enqueue("sync")
        elif kind == "Rule":
            changed.add(tags.rule(obj_id))
        elif kind in ("Host", "TunnelZone"):
            self._enqueue("sync")
        self._enqueue("invalidate", list(changed))

    def _remote_port_changed(self, port_id: uuid.UUID) -> None:
        self._enqueue("invalidate", [tags.port(port_id)])

    def _table_changed(self, key: TableKey):
        def on_change(entry_key: Any, old: Any, new: Any) -> None:
            self._enqueue("invalidate", table_change_tags(key, entry_key))

        return on_change

    def _subscribe_table(self, key: TableKey) -> None:
        if key in self._table_objs or self.tables is None:
            return
        kind, device_id, vlan = key
        if kind == "mac":
            table = self.tables.bridge_mac_table(device_id, 0 if vlan is None else vlan)
            view: Any = table
        elif kind == "ip4mac":
            table = self.tables.bridge_ip4_mac_table(device_id)
            view = IntKeyedIPv4(table)
        elif kind == "arp":
            table = self.tables.router_arp_table(device_id)
            view = RouterArpView(table)
        else:
            return
        table.add_callback(self._table_changed(key))
        self._table_objs[key] = table
        self.state.attach(key, view)
        # flows simulated before the table arrived read it as empty: those
        # that looked up a key it has now must be simulated again
        self._invalidate([t for entry in list(table) for t in table_change_tags(key, entry)])

    def _write_learned(self, learned: Any) -> None:
        """Write a MAC or ARP learning to the shared NSDB table (one round trip)."""
        marker = _learn_marker(learned)
        try:
            if type(learned) is MacLearned:
                key: TableKey = ("mac", learned.network_id, learned.vlan)
                entry_key, value = learned.mac, learned.port_id
            else:
                key = ("arp", learned.router_id, None)
                entry_key = ipaddress.IPv4Address(learned.ip)
                value = nsdb_arp_entry(learned.mac, time.time())
            table = self._table_objs.get(key)
            if table is None:
                self._subscribe_table(key)
                table = self._table_objs.get(key)
            if table is None:
                return
            if type(learned) is MacLearned and table.get(entry_key) == value:
                return
            table.add(entry_key, value)
            self.counters["macs_learned" if type(learned) is MacLearned
                          else "arps_learned"] += 1
        finally:
            self._pending_learn.discard(marker)

    def _lease_snat(self, request: Any) -> None:
        """Lease one more SNAT port block for (device, ip).

        Nothing is invalidated: the packets that asked for it were dropped
        without a flow, and flows already translated keep their ports.
        """
        key = (request.device_id, request.ip)
        try:
            ip = str(ipaddress.IPv4Address(request.ip))
            block = self.leaser.lease(request.device_id, ip, request.port_start,
                                      request.port_end)
        finally:
            self._pending_leases.discard(key)
        if block is None:
            self.counters["snat_exhausted"] += 1
            LOG.warning("no free SNAT port block on %s for %s", request.device_id, ip)
            return
        self.state.local.lease_snat_block(request.device_id, request.ip, block)
        self.counters["snat_blocks_leased"] += 1

    def _recover_session(self) -> None:
        """A new ZooKeeper session: re-create what died with the old one.

        Unlike MidoNet's agent, which shut down after ``session_gracetime``,
        this one keeps forwarding on its cached state throughout and only
        restores its ephemeral keys (watches re-arm by themselves).
        """
        if self.keys is None:
            return
        restored = self.keys.restore() + (self.leaser.restore() if self.leaser else 0)
        LOG.warning("ZooKeeper session replaced; restored %d ephemeral keys", restored)

    # -- local ports ---------------------------------------------------------
    def _sync_ports(self) -> None:
        if not self.ready or self.ovsdb is None:
            return
        ifaces = self.ovsdb.interfaces(self.bridge)
        tunnels = {ttype: i.ofport for ttype, name in TUNNEL_PORT_NAMES.items()
                   for i in ifaces if i.name == name and i.ofport > 0}
        if tunnels != self.tunnel_ofports:
            # tunnel-ingress and flow-state flows name the tunnel ports
            self.tunnel_ofports = tunnels
            self._install_flow_state_flows()
            for binding in self.bindings.values():
                self._install_binding_flows(binding)
        usable = [i for i in ifaces if i.type in ("", "system", "internal", "dummy", "tap")]
        current_keys = {pid: b.tunnel_key for pid, b in self.bindings.items()}
        desired = desired_bindings(self.cache, self.host_id, usable, current_keys)
        for port_id, old in list(self.bindings.items()):
            if desired.get(port_id) != old:
                self._unbind(old)
        for port_id, binding in desired.items():
            if self.bindings.get(port_id) != binding:
                self._bind(binding, ifaces)
        self.remote.track(
            (p.id, p.host_id) for p in self.cache.objects(Port)
            if p.host_id is not None and p.host_id != self.host_id)
        # Subscribe up front to the MAC tables of networks with local ports, so
        # the first unicast after a remote host learned a MAC is not flooded.
        for binding in self.bindings.values():
            port = self.cache.get(Port, binding.port_id)
            if port is not None and port.network_id is not None:
                key = ("mac", port.network_id, port.vlan_id)
                if key not in self._table_objs:
                    self._subscribe_table(key)

    def _bind(self, binding: LocalBinding, ifaces: list) -> None:
        self.bindings[binding.port_id] = binding
        self.ofport_to_port[binding.ofport] = binding.port_id
        remembered = next((i.tunnel_key for i in ifaces if i.name == binding.interface), None)
        if remembered != binding.tunnel_key:
            self.ovsdb.set_interface_tunnel_key(binding.interface, binding.tunnel_key)
        hosts.publish_port_active(self.keys, binding.port_id, binding.tunnel_key)
        LOG.info("bound port %s to %s (ofport %d, tunnel key %#x)", binding.port_id,
                 binding.interface, binding.ofport, binding.tunnel_key)
        self._install_binding_flows(binding)
        self._invalidate([tags.port(binding.port_id)])

    def _unbind(self, binding: LocalBinding) -> None:
        del self.bindings[binding.port_id]
        if self.ofport_to_port.get(binding.ofport) == binding.port_id:
            del self.ofport_to_port[binding.ofport]
        if self.datapath is not None:
            for _, priority, match, _ in self._binding_flows(binding):
                self._send(parser.OFPFlowMod(
                    self.datapath, table_id=pl.TABLE_CLASSIFY,
                    command=ofp.OFPFC_DELETE_STRICT, priority=priority,
                    out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=match))
        port = self.cache.get(Port, binding.port_id) if self.cache else None
        if port is None or port.host_id != self.host_id:
            hosts.withdraw_port_active(self.keys, binding.port_id)
        LOG.info("unbound port %s from %s", binding.port_id, binding.interface)
        self._invalidate([tags.port(binding.port_id)])
        # flows of packets that came in on it
        self._delete_flows_from_port(binding.ofport)

    # -- OpenFlow ------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev) -> None:
        dp = ev.msg.datapath
        LOG.info("integration bridge connected: dpid %016x", dp.id)
        self.datapath = dp
        self._send(parser.OFPSetConfig(dp, ofp.OFPC_FRAG_NORMAL, ofp.OFPCML_NO_BUFFER))
        infra, _ = pl.origin_cookie(pl.Origin.INFRA, self.generation)
        self._send(parser.OFPFlowMod(
            dp, cookie=infra, table_id=pl.TABLE_CLASSIFY, priority=pl.PRIO_MISS,
            match=parser.OFPMatch(), instructions=[]))
        self._send(parser.OFPFlowMod(
            dp, cookie=infra, table_id=pl.TABLE_SIMULATED, priority=pl.PRIO_MISS,
            match=parser.OFPMatch(), instructions=[parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])]))
        for binding in self.bindings.values():
            self._install_binding_flows(binding)
        self._install_flow_state_flows()
        # Flows of earlier agent runs keep traffic flowing; find them and
        # remove them once this run had time to re-learn the same paths.
        self._send(parser.OFPFlowStatsRequest(dp, table_id=pl.TABLE_SIMULATED))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev) -> None:
        for stat in ev.msg.body:
            cookie = pl.Cookie.decode(stat.cookie) if stat.cookie >> 56 in (
                o.value for o in pl.Origin) else None
            if (cookie and cookie.origin is pl.Origin.SIMULATION
                    and cookie.generation != self.generation):
                self._stale_generations.add(cookie.generation)
        if self._stale_generations and not (ev.msg.flags & ofp.OFPMPF_REPLY_MORE):
            hub.spawn_after(self.conf.agent.reconcile_grace, self._remove_stale_flows)

    def _remove_stale_flows(self) -> None:
        if self.datapath is None:
            return
        for gen in sorted(self._stale_generations):
            cookie, mask = pl.origin_cookie(pl.Origin.SIMULATION, gen)
            self._send(parser.OFPFlowMod(
                self.datapath, cookie=cookie, cookie_mask=mask, table_id=pl.TABLE_SIMULATED,
                command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))
            LOG.info("removed flows of flow generation %d", gen)
        self._stale_generations.clear()

    @set_ev_cls(ofp_event.EventOFPStateChange, [DEAD_DISPATCHER])
    def _switch_gone(self, ev) -> None:
        if ev.datapath is self.datapath:
            LOG.warning("integration bridge disconnected")
            self.datapath = None
            self.flows = FlowIndex(self.flows.max_flows)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def _switch_error(self, ev) -> None:
        """A message the switch refused: never silent, it means a flow is missing."""
        msg = ev.msg
        self.counters["switch_errors"] += 1
        cookie = self._xid_cookie.pop(msg.xid, None)
        if cookie is not None:
            self.flows.remove(cookie)
        LOG.error("the switch refused a message (xid %s): error type %d code %d, "
                  "request %s", msg.xid, msg.type, msg.code, bytes(msg.data[:64]).hex())

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def _flow_removed(self, ev) -> None:
        self.flows.remove(ev.msg.cookie)

    def _send(self, msg: Any) -> None:
        dp = self.datapath
        if dp is not None:
            dp.send_msg(msg)

    def _binding_flows(self, b: LocalBinding) -> list[tuple[int, int, Any, list]]:
        """(cookie, priority, match, instructions) of a local port's table-0
        flows: tunnel ingress for its key, and classification of its traffic."""
        ingress, _ = pl.origin_cookie(pl.Origin.TUNNEL_INGRESS, self.generation)
        infra, _ = pl.origin_cookie(pl.Origin.INFRA, self.generation)
        to_port = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                                [parser.OFPActionOutput(b.ofport, 0)])]
        flows = [(ingress, pl.PRIO_TUNNEL_INGRESS,
                  parser.OFPMatch(in_port=ofport, tunnel_id=b.tunnel_key), to_port)
                 for ofport in self.tunnel_ofports.values()]
        flows.append((infra, pl.PRIO_PORT_CLASSIFY, parser.OFPMatch(in_port=b.ofport),
                      [parser.OFPInstructionGotoTable(pl.TABLE_SIMULATED)]))
        return flows

    def _install_binding_flows(self, b: LocalBinding) -> None:
        dp = self.datapath
        if dp is None:
            return
        for cookie, priority, match, instructions in self._binding_flows(b):
            self._send(parser.OFPFlowMod(dp, cookie=cookie, table_id=pl.TABLE_CLASSIFY,
                                         priority=priority, match=match,
                                         instructions=instructions))

    def _install_flow_state_flows(self) -> None:
        """Tunnelled flow-state packets (key 0xFFFFFF) go to the agent."""
        if self.datapath is None:
            return
        infra, _ = pl.origin_cookie(pl.Origin.INFRA, self.generation)
        for ofport in self.tunnel_ofports.values():
            self._send(parser.OFPFlowMod(
                self.datapath, cookie=infra, table_id=pl.TABLE_CLASSIFY,
                priority=pl.PRIO_FLOW_STATE,
                match=parser.OFPMatch(in_port=ofport, tunnel_id=pl.FLOW_STATE_TUNNEL_KEY),
                instructions=[parser.OFPInstructionActions(
                    ofp.OFPIT_APPLY_ACTIONS,
                    [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])]))

    def _delete_flows_from_port(self, ofport: int) -> None:
        if self.datapath is None:
            return
        self._send(parser.OFPFlowMod(
            self.datapath, table_id=pl.TABLE_SIMULATED, command=ofp.OFPFC_DELETE,
            out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
            match=parser.OFPMatch(in_port=ofport)))

    def _invalidate(self, changed: list) -> None:
        records = self.flows.invalidate(changed)
        if not records:
            return
        self._delete_cookies([r.cookie for r in records])
        self.counters["flows_invalidated"] += len(records)

    def _delete_cookies(self, cookies: list[int]) -> None:
        """Delete simulated flows by exact cookie: one write for all of them."""
        dp = self.datapath
        if dp is None or not cookies:
            return
        data, count = delete_by_cookie(cookies, pl.TABLE_SIMULATED, dp.xid + 1)
        dp.xid = (dp.xid + count) & 0xFFFFFFFF
        dp.send(data)

    # -- packet-in: simulate and install --------------------------------------
    def host_underlay_ip(self, host_id: uuid.UUID) -> str | None:
        """The address tunnels to ``host_id`` go to (a tunnel zone shared with it)."""
        for tz in self.cache.objects(TunnelZone):
            if tz.ip_of(self.host_id) is not None:
                ip = tz.ip_of(host_id)
                if ip is not None and tz.type.value in self.tunnel_ofports:
                    return ip
        return None

    def locate(self, port_id: uuid.UUID) -> LocalPort | RemotePort | None:
        binding = self.bindings.get(port_id)
        if binding is not None:
            return LocalPort(binding.ofport)
        active = self.remote.active.get(port_id) if self.remote else None
        if active is None:
            return None
        host_id, key = active
        for tz in self.cache.objects(TunnelZone):
            if tz.ip_of(self.host_id) is None:
                continue
            ip = tz.ip_of(host_id)
            ofport = self.tunnel_ofports.get(tz.type.value)
            if ip is not None and ofport is not None:
                return RemotePort(ofport, key, ip)
        return None

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev) -> None:
        msg = ev.msg
        self.counters["packet_in"] += 1
        if not self.ready:
            self.counters["packet_in_not_ready"] += 1
            return
        in_ofport = msg.match.get("in_port")
        if msg.match.get("tunnel_id") == pl.FLOW_STATE_TUNNEL_KEY:
            self._receive_flow_state(msg.data)
            return
        port_id = self.ofport_to_port.get(in_ofport)
        if port_id is None:
            self.counters["packet_in_unknown_port"] += 1
            return
        try:
            match = parse_frame(msg.data, port_id)
        except MalformedPacket as e:
            self.counters["malformed_packets"] += 1
            LOG.debug("dropped a malformed frame from port %s: %s", port_id, e)
            return
        now = time.time()
        try:
            result = simulate(match, self.cache, self.state, now)
        except Exception:  # noqa: BLE001 - one bad simulation must not stop the agent
            self.counters["simulation_errors"] += 1
            LOG.exception("simulation failed for a packet from port %s", port_id)
            return
        try:
            self._execute(msg, in_ofport, match, result, now)
        except Exception:  # noqa: BLE001 - one bad result must not stop the agent
            self.counters["execution_errors"] += 1
            LOG.exception("executing %r failed", result)
        if self._work:
            # Under a stream of packet-ins the handler never waits on its
            # queue, so the worker (invalidations, learning, SNAT leases)
            # would starve: give it a turn whenever it has work.
            hub.sleep(0)

    def _execute(self, msg: Any, in_ofport: int, match: Any, result: SimulationResult,
                 now: float) -> None:
        self._share_learnings(result)
        dp = msg.datapath
        if result.state_keys and self.flow_state is not None:
            # state first, then the data packet, so a peer never simulates the
            # return flow of a connection whose state is still in flight
            self._send_flow_state(dp, result, match.in_port, now)
        kind = result.kind
        if kind is ResultKind.FORWARD:
            try:
                actions = build_actions(result.actions, match, in_ofport, self.locate)
            except Untranslatable:
                # a rewrite OpenFlow cannot express (the ICMP echo id of NAT):
                # run it in userspace, packet by packet, and cache no flow
                self.counters["userspace_executions"] += 1
                self._send_userspace(dp, msg.data, result.actions)
            else:
                encoded = ofwire.encode_actions(actions)
                flow = self._install(dp, match, in_ofport, result, encoded)
                if actions:
                    # the flow and the packet in one write: one trip through
                    # the send queue and one syscall per new flow
                    dp.send(flow + ofwire.packet_out(self._xid(dp), in_ofport, encoded,
                                                     msg.data))
                elif flow:
                    dp.send(flow)
        elif kind in (ResultKind.DROP, ResultKind.ERROR_DROP):
            if result.drop_timeout:
                flow = self._install(dp, match, in_ofport, result, None)
                if flow:
                    dp.send(flow)
            self.counters["dropped"] += 1
        self._send_generated(dp, result, now)

    def _send_flow_state(self, dp: Any, result: SimulationResult, ingress: uuid.UUID,
                         now: float) -> None:
        try:
            packets = self.flow_state.outgoing(result, ingress, now)
        except Exception:  # noqa: BLE001 - state loss degrades, it must not stop forwarding
            self.counters["flow_state_errors"] += 1
            LOG.exception("building flow-state packets failed")
            return
        ofport = self.tunnel_ofports.get("vxlan")
        if ofport is None:
            return
        for peer_ip, frame in packets:
            actions = ofwire.encode_actions([
                ("set_field", "tunnel_id", pl.FLOW_STATE_TUNNEL_KEY),
                ("set_field", "tun_ipv4_dst", int(ipaddress.IPv4Address(peer_ip))),
                ("output", ofport)])
            dp.send(ofwire.packet_out(self._xid(dp), ofp.OFPP_CONTROLLER, actions, frame))
            self.counters["flow_state_sent"] += 1

    def _receive_flow_state(self, frame: bytes) -> None:
        self.counters["flow_state_received"] += 1
        if self.flow_state is None:
            return
        try:
            keys = self.flow_state.incoming(frame, time.time())
        except ValueError as e:
            self.counters["flow_state_malformed"] += 1
            LOG.debug("dropped a malformed flow-state packet: %s", e)
            return
        # flows simulated before this state arrived (a return packet that
        # raced its connection's state) are re-simulated with it
        self._invalidate([tags.state_key(k) for k in keys])

    def _share_learnings(self, result: SimulationResult) -> None:
        for learned in self.state.apply_local(result, time.time()):
            marker = _learn_marker(learned)
            if marker not in self._pending_learn:
                self._pending_learn.add(marker)
                self._enqueue("learn", learned)
        for request in result.snat_requests:
            # one lease at a time per (device, ip), however many packets ask
            key = (request.device_id, request.ip)
            self._snat_ranges[key] = request
            if key not in self._pending_leases:
                self._pending_leases.add(key)
                self._enqueue("snat", request)
        if result.state_keys:
            self._lease_ahead(result)

    def _lease_ahead(self, result: SimulationResult) -> None:
        """Lease the next SNAT block while half the leased ports are still free.

        The engine asks for a block only when none is left, and drops the
        packets that arrive until the lease is done (a ZooKeeper round trip):
        under a steady stream of new connections that is a loss every 64.
        """
        local = self.state.local
        for key, value in result.state_keys:
            if type(key) is not NatKey or key.type is not NatKeyType.FWD_SNAT:
                continue
            where = (key.device_id, value.ip)
            request = self._snat_ranges.get(where)
            if request is None or where in self._pending_leases:
                continue
            leased = len(local.snat_blocks(*where)) * SNAT_BLOCK_SIZE
            if len(local.snat_ports_in_use(*where)) * 2 >= leased:
                self._pending_leases.add(where)
                self._enqueue("snat", request)

    def _send_userspace(self, dp: Any, frame: bytes, actions: Any) -> None:
        try:
            outputs = apply_actions(frame, actions)
        except ValueError as e:  # MalformedPacket is a ValueError
            self.counters["userspace_errors"] += 1
            LOG.debug("cannot execute %r in userspace: %s", actions, e)
            return
        for port_id, out_frame in outputs:
            out = build_actions([ToPort(port_id)], None, ofp.OFPP_CONTROLLER, self.locate)
            if out:
                dp.send(ofwire.packet_out(self._xid(dp), ofp.OFPP_CONTROLLER,
                                          ofwire.encode_actions(out), out_frame))

    def _send_generated(self, dp: Any, result: SimulationResult, now: float,
                        depth: int = 0) -> None:
        """Emit the frames a simulation generated (ARP, ICMP, DHCP replies).

        A frame generated on an interior port (a router's ARP request towards
        a bridge) enters the topology at the peer port and is simulated from
        there; its result is executed in userspace, never cached as a flow.
        """
        for generated in result.generated:
            if self._arp_flood_guard(generated, now):
                self.counters["arp_requests_suppressed"] += 1
                continue
            port = self.cache.get(Port, generated.port_id)
            if port is not None and port.peer_id is not None:
                if depth >= MAX_GENERATED_DEPTH:
                    self.counters["generated_loops"] += 1
                    continue
                try:
                    sub = simulate_generated(generated.port_id, generated.frame, self.cache,
                                             self.state, now)
                except Exception:  # noqa: BLE001 - one bad frame must not stop the agent
                    self.counters["simulation_errors"] += 1
                    LOG.exception("simulating a generated frame failed")
                    continue
                if sub is None:
                    continue
                self._share_learnings(sub)
                if sub.kind is ResultKind.FORWARD:
                    self._send_userspace(dp, generated.frame, sub.actions)
                self._send_generated(dp, sub, now, depth + 1)
            else:
                self._send_userspace(dp, generated.frame, [ToPort(generated.port_id)])
            self.counters["generated_packets"] += 1

    def _arp_flood_guard(self, generated: Any, now: float) -> bool:
        """True for an ARP request already sent to the same address from the
        same port within ARP_RETRY_INTERVAL."""
        frame = generated.frame
        if frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x01":
            return False
        key = (generated.port_id, frame[38:42])
        last = self._arp_sent.get(key)
        if last is not None and now - last < ARP_RETRY_INTERVAL:
            return True
        self._arp_sent[key] = now
        self._arp_sent.move_to_end(key)
        if len(self._arp_sent) > ARP_MEMORY:
            self._arp_sent.popitem(last=False)
        return False

    def _xid(self, dp: Any) -> int:
        dp.xid = (dp.xid + 1) & 0xFFFFFFFF
        return dp.xid

    def _install(self, dp: Any, match: Any, in_ofport: int, result: SimulationResult,
                 actions: bytes | None) -> bytes:
        """The flow-mod of a result, indexed (the caller sends it); ``actions``
        (encoded) None or empty: a drop. Empty bytes when it cannot be cached."""
        try:
            ofmatch = build_match(match, result.wildcard, in_ofport)
        except Untranslatable:
            self.counters["uncacheable"] += 1
            return b""
        cookie = pl.Cookie(pl.Origin.SIMULATION, self.generation, next(self._serial)).encode()
        idle = self.conf.agent.flow_idle_timeout
        hard = result.hard_timeout
        if result.kind is not ResultKind.FORWARD:
            hard = hard or self.conf.agent.drop_flow_hard_timeout
            idle = 0
        elif hard is None:
            hard = self.conf.agent.flow_hard_timeout
        priority = (pl.PRIO_SIMULATED if actions else pl.PRIO_SIMULATED_DROP) + len(
            result.wildcard)
        xid = self._xid(dp)
        self._xid_cookie[xid] = cookie
        if len(self._xid_cookie) > XID_MEMORY:
            self._xid_cookie.popitem(last=False)
        flow = ofwire.flow_mod(xid, cookie, pl.TABLE_SIMULATED, priority,
                               ofwire.encode_match(ofmatch), actions or None,
                               idle_timeout=idle, hard_timeout=int(hard or 0),
                               flags=ofp.OFPFF_SEND_FLOW_REM)
        deps = set(result.tags)
        deps.update(tags.port(p) for p in result.egress_port_ids)
        evicted = self.flows.add(FlowRecord(cookie, frozenset(deps), ofmatch,
                                            (result.kind, result.actions, result.reason),
                                            time.time()))
        self._delete_cookies(evicted)
        self.counters["flows_installed"] += 1
        return flow


def _describe_match(fields: Any) -> str:
    """``in_port=3,eth_dst=...,ipv4_dst=203.0.113.1`` (as ovs-ofctl would name them)."""
    parts = []
    for name, value in fields:
        if name in ("ipv4_src", "ipv4_dst", "arp_spa", "arp_tpa"):
            value = ipaddress.IPv4Address(value)
        parts.append(f"{name}={value}")
    return ",".join(parts)


def _describe(summary: Any) -> str:
    """A flow's simulation outcome, for operators (built only when asked)."""
    kind, actions, reason = summary
    text = f"{kind.name}: " + ", ".join(
        f"{type(a).__name__}({', '.join(map(str, a))})" for a in actions)
    return f"{text} ({reason})" if reason else text


def _flow_state_shell(agent: MidonetAgent) -> Any:
    """The flow-state replicator (midonet_ryu.flowstate.replicator), when this build has it."""
    try:
        from midonet_ryu.flowstate.replicator import FlowStateShell
    except ImportError:
        LOG.warning("flow state is not replicated: midonet_ryu.flowstate.replicator is missing")
        return None
    return FlowStateShell(agent.host_id, agent.cache, agent.state.local, agent.host_underlay_ip)


def _learn_marker(learned: Any) -> tuple:
    if type(learned) is MacLearned:
        return ("mac", learned.network_id, learned.vlan, learned.mac, learned.port_id)
    return ("arp", learned.router_id, learned.ip, learned.mac)
