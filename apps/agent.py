"""The host agent: one per hypervisor, the I/O shell around the decision core.

After FAUCET's shim: every event goes once into
:class:`midonet_ryu.datapath.flow_setup.FlowSetup` (the decisions) and what
comes back is sent through the one :class:`~apps.switch_connection.SwitchConnection`
and queued for the worker (NSDB round trips). The shell owns the sockets and
threads: OpenFlow (OS-Ken), OVSDB (ovsdbapp), ZooKeeper (kazoo), the
inspection socket and the Prometheus endpoint.

Concurrency: eventlet. OS-Ken's receive loop, kazoo callbacks and the
worker are green threads of one OS thread; kazoo callbacks only queue work,
and the core never yields, so a simulation sees one consistent topology.
"""
from __future__ import annotations

import ipaddress
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

from apps import agent_boot, control, inspection, packet_in_fast_path
from apps import config as agent_config
from apps import work_queue as w
from apps.agent_nsdb import AgentNsdb
from apps.flow_state_file import FlowStateFile
from apps.host_identity import resolve_host_id
from apps.switch_connection import SwitchConnection
from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath.agent_state import AgentState
from midonet_ryu.datapath.fair_inbox import FairInbox
from midonet_ryu.datapath.flow_setup import FlowPolicy, FlowSetup, Outcome
from midonet_ryu.datapath.invalidation import SYNC_KINDS, topology_change_tags
from midonet_ryu.datapath.nsdb_grace import CANNOT, DEGRADED, NsdbGrace
from midonet_ryu.datapath.port_map import PortMap
from midonet_ryu.flowstate.local_store import forget_blocks
from midonet_ryu.flowstate.replicator import FlowStateReplicator
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.metrics import AgentMetrics
from midonet_ryu.simulation import tags
from midonet_ryu.simulation.state import InMemoryState
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Router

LOG = logging.getLogger(__name__)
SYNC_INTERVAL = 1.0
HEALTH_TICK = 0.1  # seconds between looks at the health probes (timeouts, turns)
YIELD_EVERY = 16  # packet-ins handled in a row before other green threads get a turn
SHED_LOG_INTERVAL = 10.0  # seconds between warnings naming the ingresses shed most
TABLE_READY_WAIT = 1.0  # at most this long packets wait for a new state table's entries


class MidonetAgent(app_manager.OSKenApp):
    OFP_VERSIONS = [ofp.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conf = c = agent_config.conf()
        # bound what waits for the handlers (os-ken's default is 128 events)
        self.events = hub.Queue(c.agent.packet_in_queue_size)
        self._events_sem = hub.BoundedSemaphore(self.events.maxsize)
        self.host_id = resolve_host_id(c.host.host_id, c.host.host_id_file)
        self.hostname = c.host.hostname or socket.gethostname()
        self.metrics = AgentMetrics()
        self.grace = g = NsdbGrace(c.zookeeper.session_gracetime / 1000.0, time.time())
        # read at scrape time, so they agree with the status command to the moment
        self.metrics.nsdb_degraded.set_function(
            lambda: 1 if g.state(time.time()) == DEGRADED else 0)
        self.metrics.nsdb_disconnected_seconds.set_function(
            lambda: g.disconnected_for(time.time()))
        self.work = w.WorkQueue()
        self._wake = hub.Event()
        # packet-ins read and not handled yet, served round robin by ingress
        self.inbox: FairInbox[tuple[int | None, int | None], tuple[of.PacketIn, float]] = (
            FairInbox(c.agent.packet_in_backlog))
        self._pins = hub.Event()
        self._shed_logged = float("-inf")
        self._shed_since = time.time()
        self._sync_queued = False  # one Sync for a burst of interface or topology changes
        self._located_in_sync: set[uuid.UUID] | None = None
        self._loaded_queued = False  # one TopologyLoaded for a burst of answers
        self._swept = time.time()
        # ports the topology changed since the last sync; None: look at all
        self._ports_changed: set[uuid.UUID] | None = None
        self.ready = False
        self.services: agent_boot.Services | None = None
        self.core: FlowSetup | None = None
        self.nsdb: AgentNsdb | None = None
        self.switch: SwitchConnection | None = None
        self._worker_busy = False
        self._control: Any = None
        self.flow_state_file: FlowStateFile | None = None
        packet_in_fast_path.install()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Any:
        thread = super().start()
        self.threads.append(hub.spawn(self._boot))
        self.threads.append(hub.spawn(self._serve_packet_ins))
        return thread

    def close(self) -> None:
        self.release()
        super().close()

    def release(self) -> None:
        LOG.info("agent stopping")
        self.ready = False
        if self._control is not None:
            self._control.close()
        try:
            self._save_flow_state()  # a clean stop keeps the very latest
        except Exception:  # noqa: BLE001 - shutting down regardless
            LOG.exception("flow state not saved at stop")
        if self.services is not None:
            self.services.close()
            self.services = None

    def _boot(self) -> None:
        try:
            self._boot_steps()
        except Exception:  # noqa: BLE001 - half a boot is worse than none
            LOG.critical("agent failed to start", exc_info=True)
            logging.shutdown()
            os._exit(1)

    def _boot_steps(self) -> None:
        c = self.conf
        if c.agent.arp_stale >= c.agent.arp_expiration:
            raise ValueError(f"[agent] arp_stale ({c.agent.arp_stale:g} s) must be below "
                             f"arp_expiration ({c.agent.arp_expiration:g} s)")
        svc = self.services = agent_boot.boot(
            c, self.host_id, self.hostname, self._zk_state,
            self._remote_port_moved,
            lambda host_id: self._queue(w.HostLivenessChanged(host_id)), self._topology_changed,
            self.metrics.state_proxy_update_seconds.observe, self._topology_loaded)
        # the session connected before the listener was added: say so
        self.metrics.zookeeper_connected.set(1 if svc.zk.connected else 0)
        state = AgentState(InMemoryState(key_ttl=float(c.agent.flow_state_key_ttl)))
        self._reload_flow_state(state, svc)
        ports = PortMap(self.host_id, svc.cache, svc.remote.active, svc.remote.down_hosts)
        replicator = FlowStateReplicator(self.host_id, svc.cache, state.local,
                                         ports.host_underlay_ip, dscp=c.agent.flow_state_dscp)
        policy = FlowPolicy(c.agent.flow_idle_timeout, c.agent.flow_hard_timeout,
                            c.agent.drop_flow_hard_timeout, c.agent.flow_state_key_ttl / 2)
        self.core = FlowSetup(self.host_id, svc.generation, svc.cache, state, ports, policy,
                              replicator, clock=time.perf_counter,
                              observe_simulation=self.metrics.simulation_seconds.observe,
                              mac_expiry=c.agent.mac_port_mapping_expire,
                              arp_expiry=c.agent.arp_expiration,
                              topology_waits=c.agent.topology_waits)
        self.nsdb = AgentNsdb(svc, state, self.metrics,
                              lambda changed: self._queue(w.Invalidate(tuple(changed))),
                              (c.agent.arp_expiration, c.agent.arp_stale))
        self._control = control.serve(c.agent.control_socket,
                                      lambda req: inspection.answer(self, req), hub.spawn)
        self._serve_metrics()
        self.ready = True
        if self.switch is not None:  # the switch connected while the agent booted
            self.switch.send(self.core.switch_connected())
        LOG.info("agent ready: %d ports in the topology", svc.cache.count(Port))
        svc.ovsdb.on_interfaces_changed(self._interfaces_changed)
        self._queue(w.Sync())
        self._queue(w.TracesChanged())
        self.threads.append(hub.spawn(self._periodic))
        self.threads.append(hub.spawn(self._worker))
        self.threads.append(hub.spawn(self._health))

    def _reload_flow_state(self, state: AgentState, svc: agent_boot.Services) -> None:
        """Before any flow of the previous run is removed: its keys, and its
        SNAT blocks taken back, so established connections keep their state."""
        c = self.conf.agent
        if not c.flow_state_file:
            return
        self.flow_state_file = f = FlowStateFile(c.flow_state_file, self.host_id,
                                                 c.flow_state_file_max_keys)
        loaded = f.load(state.local, time.time())
        if loaded is None:
            return
        self.metrics.inc(C.FLOW_STATE_RELOADED, loaded.conntrack + loaded.nat)
        blocks = [(d, str(ipaddress.IPv4Address(ip)), b) for d, ip, b in loaded.blocks]
        try:
            lost = svc.leaser.adopt(blocks)
        except Exception:  # noqa: BLE001 - keep the keys; a new session re-takes them
            LOG.exception("SNAT blocks of the flow-state file not taken back")
            svc.leaser.held.update(blocks)
            lost = []
        dropped = forget_blocks(state.local, [(d, int(ipaddress.IPv4Address(ip)), b)
                                              for d, ip, b in lost])
        if lost:
            self.metrics.inc(C.FLOW_STATE_BLOCKS_LOST, len(lost))
            LOG.warning("%d SNAT blocks of the flow-state file are another host's now; "
                        "%d NAT keys translated into them dropped", len(lost), dropped)
        LOG.info("flow state reloaded: %d conntrack and %d NAT keys (%d expired while the "
                 "agent was down), %d of %d SNAT blocks taken back", loaded.conntrack,
                 loaded.nat - dropped, loaded.expired, len(blocks) - len(lost), len(blocks))

    def _save_flow_state(self) -> None:
        f, core = self.flow_state_file, self.core
        if f is not None and core is not None and f.save(core.state.local, time.time()):
            self.metrics.inc(C.FLOW_STATE_SAVES)

    def _serve_metrics(self) -> None:
        port = self.conf.agent.metrics_port
        if port:
            from apps import metrics_endpoint

            metrics_endpoint.serve(self.metrics.registry, self.conf.agent.metrics_listen_address,
                                   port)

    def _zk_state(self, state: str) -> None:
        """Session events: keep forwarding and simulating on the cached topology
        through any outage; only report being degraded meanwhile."""
        self.metrics.zookeeper_connected.set(1 if state == "CONNECTED" else 0)
        self.grace.changed(state == "CONNECTED", time.time())
        if state == "CONNECTED":
            LOG.warning("ZooKeeper connection restored")
            if self.ready:
                self._queue(w.Reconnected())
        else:
            LOG.warning("ZooKeeper connection %s: reconnecting, serving from the cached "
                        "topology", state)
        if state == "LOST" and self.ready:  # not the close at shutdown
            self.metrics.inc(C.ZOOKEEPER_SESSIONS_LOST)
            self._queue(w.RecoverSession())

    def state_proxy_state(self) -> str:
        return self.services.tables.proxy_state if self.services is not None else "disabled"

    def _interfaces_changed(self) -> None:
        """A tap came or went on the bridge: look again now (one Sync for a
        burst of row changes, e.g. a port added and then given its ofport)."""
        self._queue_sync()

    def _queue_sync(self) -> None:
        if not self._sync_queued:
            self._sync_queued = True
            self._queue(w.Sync())

    # -- the worker ----------------------------------------------------------------------------
    def _queue(self, item: w.WorkItem) -> None:
        self.work.put(item)
        self._wake.set()

    def _periodic(self) -> None:
        while True:
            hub.sleep(SYNC_INTERVAL)
            core, m = self.core, self.metrics
            m.work_queue_depth.set(len(self.work))  # the backlog, before this tick's sync
            self._queue(w.Sync())
            if core is None:
                continue
            now = time.time()
            self._tend_topology(now)
            keys_gone = core.state.local.expire_keys(now)
            if keys_gone:
                m.inc(C.STATE_KEYS_EXPIRED, len(keys_gone))
                self._apply(core.keys_expired(keys_gone, now))
            try:
                self._save_flow_state()
            except Exception:  # noqa: BLE001 - the datapath goes on without it
                LOG.exception("flow state not saved")
            if self.grace.newly_degraded(now):
                LOG.error("ZooKeeper unreachable for %.0f s (session_gracetime): degraded. "
                          "Still forwarding and simulating on the cached topology; until it "
                          "is back the agent cannot %s", self.grace.disconnected_for(now),
                          "; ".join(CANNOT))
            if self.nsdb is not None and self.nsdb.reachable():
                # (during an outage entries stay: they are removed once it is over)
                expired = core.expire_learned(now)
                if expired:
                    self._queue(w.ForgetLearned(tuple(expired)))
            if core.replicator is not None and core.replicator.counts:
                m.add(core.replicator.counts.items())
                core.replicator.counts.clear()
            m.flows.set(len(core.flows))
            m.local_ports.set(len(core.ports.bindings))
            m.remote_hosts_down.set(len(core.ports.down_hosts))
            m.packet_in_queue_depth.set(len(self.inbox))
            self._log_shed(now)
            m.state_proxy_connected.set(1 if self.state_proxy_state() == "connected" else 0)
            if self.work.dropped:
                m.inc(C.WORK_ITEMS_DROPPED, self.work.dropped)
                self.work.dropped = 0

    def _health(self) -> None:
        """Health-monitor probes of the pool members bound here: due ones every
        tick, where the members are once a second."""
        ticks = 0
        per_relocate = max(1, round(SYNC_INTERVAL / HEALTH_TICK))
        while True:
            hub.sleep(HEALTH_TICK)
            core = self.core
            if core is None or self.switch is None:
                continue
            try:
                self._apply(core.health_tick(time.time(), ticks % per_relocate == 0))
            except Exception:  # noqa: BLE001 - probing must never stop the agent
                self.metrics.inc(C.WORKER_ERRORS)
                LOG.exception("health probes failed")
            ticks += 1

    def _worker(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while (item := self.work.get()) is not None:
                self._worker_busy = True
                try:
                    self._do(item)
                except Exception:  # noqa: BLE001 - keep the agent serving
                    self.metrics.inc(C.WORKER_ERRORS)
                    LOG.exception("agent work item %r failed", item)
                finally:
                    self._worker_busy = False

    def _do(self, item: w.WorkItem) -> None:
        core, nsdb = self.core, self.nsdb
        assert core is not None and nsdb is not None
        kind = type(item)
        if kind is w.Sync:
            self._sync_queued = False
            self._sync_ports()
        elif kind is w.TopologyLoaded:
            self._loaded_queued = False
            cache = self.services.cache  # type: ignore[union-attr]
            self._apply(core.topology_loaded(cache.resolved, time.time()))  # type: ignore[union-attr]
        elif kind is w.Invalidate:
            self._apply(core.invalidate(item.tags))  # type: ignore[union-attr]
        elif kind is w.RemotePortMoved:
            self._apply(core.invalidate([tags.port(item.port_id)]))  # type: ignore[union-attr]
        elif kind is w.HostLivenessChanged:
            # the flows that tunnelled to its ports (floods too: they are
            # tagged with every port they output to) go, and are simulated again
            ports = self.services.remote.ports_of(item.host_id)  # type: ignore[union-attr]
            self._apply(core.invalidate([tags.port(p) for p in ports]))
        elif kind is w.SubscribeTable:
            try:
                nsdb.subscribe(item.key)  # type: ignore[union-attr]
            finally:
                self._when_table_ready(item.key)  # type: ignore[union-attr]
        elif kind is w.WriteLearned:
            try:
                nsdb.write_learned(item.learned)  # type: ignore[union-attr]
            finally:
                core.learned_written(item.learned)  # type: ignore[union-attr]
        elif isinstance(item, w.ForgetLearned):
            for learned in item.expired:
                if not core.ageing.tracks(learned):  # not learned again since
                    nsdb.forget_learned(learned)
        elif kind is w.LeaseSnat:
            blocks: list[int] = []
            reachable = nsdb.reachable()
            try:
                blocks = nsdb.lease_snat(item.request)  # type: ignore[union-attr]
            finally:
                self._apply(core.snat_leased(item.request, blocks,  # type: ignore[union-attr]
                                             nsdb_unreachable=not reachable, now=time.time()))
        elif kind is w.RecoverSession:
            demand = self.services.demand  # type: ignore[union-attr]
            if demand is not None:
                demand.session_replaced()
            nsdb.recover_session()
            self._ports_changed = None  # what changed while the session was gone
        elif kind is w.Reconnected:
            nsdb.reconnected()
        elif kind is w.TracesChanged:
            core.traces_changed()
        elif kind is w.SetMemberStatus:
            try:
                nsdb.set_member_status(item.member_id, item.status)  # type: ignore[union-attr]
            finally:
                core.health.status_written(item.member_id)  # type: ignore[union-attr]
        elif kind is w.RecordTrace:
            if nsdb.record_trace(item.trace_id, item.limit,  # type: ignore[union-attr]
                                 item.record):  # type: ignore[union-attr]
                core.trace_full(item.trace_id)  # type: ignore[union-attr]

    def _topology_changed(self, kind: str, obj_id: uuid.UUID, old: Any, new: Any) -> None:
        if kind == "Port" and self._ports_changed is not None:
            self._ports_changed.add(obj_id)
        if kind in SYNC_KINDS:
            self._queue_sync()
        elif kind == "TraceRequest":
            self._queue(w.TracesChanged())  # before the invalidation it comes with
        self._queue(w.Invalidate(tuple(topology_change_tags(kind, obj_id, old, new))))

    def _sync_ports(self) -> None:
        svc, core, nsdb = self.services, self.core, self.nsdb
        if not self.ready or svc is None or core is None or nsdb is None:
            return
        ifaces = svc.ovsdb.interfaces(self.conf.agent.integration_bridge)
        changed, self._ports_changed = self._ports_changed, set()
        located: set[uuid.UUID] = set()
        self._located_in_sync = located
        try:
            changes = core.ports.sync(ifaces, changed)
            svc.remote.update(changes.remote_moved, changes.remote_gone)
        except Exception:
            self._ports_changed = None  # the next sync looks at every port again
            raise
        finally:
            self._located_in_sync = None
        if located:
            self._apply(core.invalidate([tags.port(p) for p in located]))
        nsdb.publish_interfaces(ifaces, core.ports)
        remembered = {i.name: i.tunnel_key for i in ifaces}
        for binding in changes.unbound:
            nsdb.port_unbound(binding, core.ports.still_bound_here(binding.port_id))
            if svc.cache.get(Port, binding.port_id) is None:
                core.port_moved(binding.port_id, None, time.time())  # deleted
        for port_id, host_id in changes.remote_moved:
            # a port that was bound here among them: a migration, its state goes along
            self._apply(core.port_moved(port_id, host_id, time.time()))
        for binding in changes.bound:
            nsdb.port_bound(binding, remembered.get(binding.interface),
                            svc.ovsdb.set_interface_tunnel_key)
        self._apply(core.bindings_changed(changes))
        # Subscribe up front to the MAC tables of networks with local ports, so
        # the first unicast after a remote host learned a MAC is not flooded.
        for network_id, vlan in changes.mac_tables_wanted:
            nsdb.subscribe(("mac", network_id, vlan))
        if core.waits:  # packets may wait for the remote ports just located
            self._topology_loaded()

    def _remote_port_moved(self, port_id: uuid.UUID) -> None:
        """A remote port's location changed (a kazoo callback), or was first
        read by the sync itself: then its flows go before the sync ends, so
        a packet waiting for that location is simulated after they went."""
        if self._located_in_sync is not None:
            self._located_in_sync.add(port_id)
        else:
            self._queue(w.RemotePortMoved(port_id))

    def _when_table_ready(self, key: Any) -> None:
        """Packets that read a state table first wait for its entries: tell
        the core once they are in (at most TABLE_READY_WAIT), not before."""
        table = self.nsdb.tables.get(key) if self.nsdb is not None else None
        ready = getattr(table, "ready", None)

        def opened() -> None:
            if ready is not None and not ready.is_set():
                ready.wait(TABLE_READY_WAIT)
            if self.core is not None:
                self.core.table_opened(key)
                if self.core.waits:
                    self._topology_loaded()

        if ready is None or ready.is_set():
            opened()
        else:
            hub.spawn(opened)

    def _topology_loaded(self) -> None:
        """A read of the on-demand topology was answered (a kazoo callback)."""
        if not self._loaded_queued:
            self._loaded_queued = True
            self._queue(w.TopologyLoaded())

    def _tend_topology(self, now: float) -> None:
        """The tick's care of the on-demand topology: what other readers
        missed is loaded, failed reads are sent again, and devices out of
        use for topology_idle_expiry are dropped."""
        svc, core = self.services, self.core
        cache = svc.demand if svc is not None else None
        if svc is None or core is None or cache is None:
            return
        cache.load(cache.take_misses())
        cache.retry()
        expiry = self.conf.agent.topology_idle_expiry
        if now - self._swept < expiry / 2 or not svc.zk.connected:
            return
        self._swept = now
        roots: set[tuple[str, uuid.UUID]] = set()
        for device_id in core.devices_in_use(now - expiry):
            roots.update((("Network", device_id), ("Router", device_id)))
        for cls in (Network, Router):
            roots.update((cls.kind, d.id) for d in cache.objects(cls)
                         if core.flows.tagged(tags.device(d.id)))
        gone = cache.sweep(roots)
        if gone:
            self.metrics.inc(C.TOPOLOGY_EVICTED, gone)
            LOG.info("dropped %d topology objects no device in use leads to", gone)

    def _apply(self, outcome: Outcome) -> None:
        """Send an outcome's messages and queue its NSDB work."""
        if outcome.counts:
            self.metrics.add(outcome.counts)
        if outcome.loads:
            demand = self.services.demand if self.services is not None else None
            if demand is not None:
                demand.load(outcome.loads)
        if outcome.messages and self.switch is not None:
            self.switch.send(outcome.messages)
        if (outcome.learned or outcome.leases or outcome.tables or outcome.traced
                or outcome.statuses):
            for learned in outcome.learned:
                self._queue(w.WriteLearned(learned))
            for request in outcome.leases:
                self._queue(w.LeaseSnat(request))
            for key in outcome.tables:
                self._queue(w.SubscribeTable(key))
            for trace_id, limit, record in outcome.traced:
                self._queue(w.RecordTrace(trace_id, limit, record))
            for member_id, status in outcome.statuses:
                self._queue(w.SetMemberStatus(member_id, status))

    # -- OpenFlow ------------------------------------------------------------------------------
    def _raw_packet_in(self, buf: bytes) -> None:
        """A packet-in from OS-Ken's receive loop (``packet_in_fast_path``):
        into the inbox, so the connection is read as fast as packets come
        and a saturated agent sheds by ingress, not by arrival."""
        read_at = time.perf_counter()
        try:
            pin = of.decode_packet_in(buf)
        except of.MalformedMessage:
            self.metrics.inc(C.MALFORMED_PACKETS)
            return
        if self.inbox.put((pin.in_port, pin.tunnel_id), (pin, read_at)) is not None:
            self.metrics.counts[C.PACKET_IN_SHED] += 1
        if not self._pins.is_set():
            self._pins.set()

    def _serve_packet_ins(self) -> None:
        inbox, metrics = self.inbox, self.metrics
        while True:
            self._pins.wait()
            self._pins.clear()
            in_a_row = 0
            while (item := inbox.get()) is not None:
                pin, read_at = item
                try:
                    self._packet_in(pin)
                except Exception:  # noqa: BLE001 - one packet, not the agent
                    metrics.inc(C.PACKET_IN_ERRORS)
                    LOG.exception("packet-in from OpenFlow port %s failed", pin.in_port)
                metrics.packet_in_seconds.observe(time.perf_counter() - read_at)
                in_a_row += 1
                if self.work or self._worker_busy or in_a_row >= YIELD_EVERY:
                    # let the receive loop fill the inbox (that is where the
                    # shedding is fair), and the worker (invalidations,
                    # learning, SNAT leases), ZooKeeper and the timers run
                    in_a_row = 0
                    hub.sleep(0)

    def _log_shed(self, now: float) -> None:
        shed = self.inbox.shed
        if not shed or now - self._shed_logged < SHED_LOG_INTERVAL:
            return
        top = ", ".join(f"{n} from {self._ingress_name(ofport, key)}"
                        for (ofport, key), n in shed.most_common(3))
        LOG.warning("agent saturated: %d packet-ins shed in the last %.0f s, most %s",
                    sum(shed.values()), now - self._shed_since, top)
        shed.clear()
        self._shed_logged = self._shed_since = now

    def _ingress_name(self, ofport: int | None, tunnel_key: int | None) -> str:
        ports = self.core.ports if self.core is not None else None
        port_id = ports.ofport_to_port.get(ofport) if ports is not None and ofport else None
        if port_id is not None and ports is not None and port_id in ports.bindings:
            return f"{ports.bindings[port_id].interface} (port {port_id})"
        if tunnel_key:
            return f"OpenFlow port {ofport} tunnel key {tunnel_key:#x}"
        return f"OpenFlow port {ofport}"

    def _packet_in(self, pin: of.PacketIn) -> None:
        self.metrics.counts[C.PACKET_IN] += 1
        core = self.core
        if not self.ready or core is None:
            self.metrics.inc(C.PACKET_IN_NOT_READY)
            return
        self._apply(core.packet_in(pin, time.time()))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in_event(self, ev: Any) -> None:
        """Packet-ins OS-Ken dispatched as events (before the fast path is attached)."""
        msg = ev.msg
        self._packet_in(of.PacketIn(msg.match.get("in_port"), msg.match.get("tunnel_id"),
                                    bytes(msg.data), msg.table_id, msg.cookie,
                                    msg.match.get("tun_ipv4_src")))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev: Any) -> None:
        dp = ev.msg.datapath
        LOG.info("integration bridge connected: dpid %016x", dp.id)
        self.switch = SwitchConnection(dp, self.metrics, self._flow_refused)
        if self.ready and self.core is not None:
            self.switch.send(self.core.switch_connected())
        packet_in_fast_path.attach(dp, self._raw_packet_in)

    def _flow_refused(self, message: Any) -> None:
        if self.core is not None:
            self.core.flow_refused(message)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev: Any) -> None:
        """Flows of earlier agent runs keep traffic flowing; remove them once
        this run had time to re-learn the same paths."""
        core = self.core
        if core is None:
            return
        stale = core.flows_seen(stat.cookie for stat in ev.msg.body)
        if stale and not (ev.msg.flags & ofp.OFPMPF_REPLY_MORE):
            hub.spawn_after(self.conf.agent.reconcile_grace, self._remove_stale_flows)

    def _remove_stale_flows(self) -> None:
        if self.switch is not None and self.core is not None:
            messages = self.core.remove_stale_flows()
            self.switch.send(messages)
            LOG.info("removed flows of %d earlier flow generations", len(messages))

    @set_ev_cls(ofp_event.EventOFPStateChange, [DEAD_DISPATCHER])
    def _switch_gone(self, ev: Any) -> None:
        if self.switch is not None and ev.datapath is self.switch.datapath:
            LOG.warning("integration bridge disconnected")
            packet_in_fast_path.detach(ev.datapath)
            self.switch = None
            if self.core is not None:
                self.core.switch_gone()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def _switch_error(self, ev: Any) -> None:
        msg = ev.msg
        if self.switch is not None:
            self.switch.refused(msg.xid, msg.type, msg.code, bytes(msg.data))
        else:
            self.metrics.inc(C.SWITCH_ERRORS)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def _flow_removed(self, ev: Any) -> None:
        if self.core is not None:
            self.core.flow_removed(ev.msg.cookie)
