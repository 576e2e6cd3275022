"""The agent's writes and subscriptions in the NSDB, run by its worker.

Each method is one round trip (or a few) that the packet path must never
wait for: subscribing to a state table, writing a learned MAC or ARP entry,
leasing a SNAT block, publishing or withdrawing a bound port, restoring
ephemeral keys after a new session. Decisions about what to do are the
flow setup's; this only does it and reports back.

While ZooKeeper is unreachable nothing here waits for it (the client would
queue a request until the connection is back, and the worker with it):
learnings and table subscriptions are put aside (bounded) and done by
:meth:`AgentNsdb.reconnected`, port keys are noted by ``StateKeys``, SNAT
leases and trace records are refused.
"""
from __future__ import annotations

import collections
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import ZookeeperError

from apps.agent_boot import Services
from midonet_ryu.datapath.agent_state import (
    ARP_EXPIRY,
    ARP_STALE,
    AgentState,
    IntKeyedIPv4,
    RouterArpView,
    TableKey,
    nsdb_arp_entry,
    table_change_tags,
)
from midonet_ryu.datapath.local_ports import LocalBinding
from midonet_ryu.metrics import AgentCounter, AgentMetrics
from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.store import NotFound, StoreError
from midonet_ryu.simulation.result import ArpLearned, MacLearned, SnatBlockRequest
from midonet_ryu.topology.lb import LBStatus, PoolMember

LOG = logging.getLogger(__name__)
MAX_DEFERRED = 10_000
"""Learnings put aside during an outage; past this the oldest are dropped
(a VM that keeps talking is learned again by its next flow)."""


class AgentNsdb:
    def __init__(self, services: Services, state: AgentState, metrics: AgentMetrics,
                 invalidate: Callable[[list[Any]], None],
                 arp_times: tuple[float, float] = (ARP_EXPIRY, ARP_STALE)) -> None:
        self.services = services
        self.arp_expiry, self.arp_stale = arp_times
        self.state = state
        self.metrics = metrics
        self.invalidate = invalidate  # queue tags for the worker
        self.tables: dict[TableKey, Any] = {}
        self._interfaces: list[dict[str, Any]] | None = None
        self._deferred: collections.OrderedDict[Any, MacLearned | ArpLearned] = (
            collections.OrderedDict())
        self._deferred_tables: set[TableKey] = set()

    def reachable(self) -> bool:
        return bool(self.services.zk.connected)

    def _unreachable(self) -> None:
        self.metrics.inc(AgentCounter.NSDB_UNREACHABLE)

    def reconnected(self) -> None:
        """ZooKeeper is back: do what was put aside meanwhile."""
        keys = self.services.keys.flush_pending()
        tables, self._deferred_tables = self._deferred_tables, set()
        for key in tables:
            self.subscribe(key)
        deferred, self._deferred = self._deferred, collections.OrderedDict()
        for learned in deferred.values():
            self.write_learned(learned)
        if keys or tables or deferred:
            LOG.warning("ZooKeeper reachable again: wrote %d port keys and %d learnings and "
                        "opened %d tables put aside meanwhile", keys, len(deferred),
                        len(tables))

    @property
    def deferred(self) -> int:
        return len(self._deferred) + len(self._deferred_tables) + self.services.keys.pending

    def _defer(self, learned: MacLearned | ArpLearned) -> None:
        marker = (type(learned), learned[:-1] if isinstance(learned, MacLearned) else
                  learned[:2])
        self._deferred[marker] = learned  # the newest learning of an entry wins
        self._deferred.move_to_end(marker)
        if len(self._deferred) > MAX_DEFERRED:
            self._deferred.popitem(last=False)
        self._unreachable()

    def subscribe(self, key: TableKey) -> None:
        """Open ``key``'s table and attach it to the simulation's state (once).

        Flows simulated before the table arrived read it as empty: the entries
        it already has invalidate them, by the same path as later changes."""
        if key in self.tables:
            return
        if not self.reachable():
            self._deferred_tables.add(key)
            self._unreachable()
            return
        kind, device_id, vlan = key
        provider = self.services.tables
        if kind == "mac":
            table = provider.bridge_mac_table(device_id, 0 if vlan is None else vlan)
            view: Any = table
        elif kind == "ip4mac":
            table = provider.bridge_ip4_mac_table(device_id)
            view = IntKeyedIPv4(table)
        elif kind == "arp":
            table = provider.router_arp_table(device_id)
            view = RouterArpView(table)
        else:
            return

        def on_change(entry_key: Any, old: Any, new: Any) -> None:
            # A removed entry leaves the flows simulated with it in place
            # (they idle out, or go when another entry replaces it): learned
            # entries die with their writer's session, and a restarting agent
            # whose session expired still forwards with its old flows; the
            # flows other hosts send to it must not be thrown away meanwhile.
            if new is not None:
                self.invalidate(table_change_tags(key, entry_key))

        table.add_callback(on_change)
        self.tables[key] = table
        self.state.attach(key, view)
        loaded = [tag for entry in list(table) for tag in table_change_tags(key, entry)]
        if loaded:
            self.invalidate(loaded)

    def write_learned(self, learned: MacLearned | ArpLearned) -> None:
        """Write a MAC or ARP learning to the shared NSDB table."""
        if isinstance(learned, MacLearned):
            key: TableKey = ("mac", learned.network_id, learned.vlan)
            entry_key: Any = learned.mac
            value: Any = learned.port_id
        else:
            key = ("arp", learned.router_id, None)
            entry_key = ipaddress.IPv4Address(learned.ip)
            value = nsdb_arp_entry(learned.mac, time.time(), self.arp_expiry, self.arp_stale)
        if not self.reachable():
            self._defer(learned)
            return
        self.subscribe(key)
        table = self.tables.get(key)
        if table is None:
            return
        if type(learned) is MacLearned and table.get(entry_key) == value:
            return
        try:
            table.add(entry_key, value)
        except ZookeeperError:  # the connection went meanwhile
            self._defer(learned)
            return
        self.metrics.inc(AgentCounter.MACS_LEARNED if type(learned) is MacLearned
                         else AgentCounter.ARPS_LEARNED)

    def forget_learned(self, learned: MacLearned | ArpLearned) -> bool:
        """Remove this agent's own entry for an aged-out learning; entries
        other hosts wrote, or this one wrote since with another value, stay."""
        if isinstance(learned, MacLearned):
            table = self.tables.get(("mac", learned.network_id, learned.vlan))
            entry_key: Any = learned.mac
            value: Any = learned.port_id
        else:
            table = self.tables.get(("arp", learned.router_id, None))
            entry_key = ipaddress.IPv4Address(learned.ip)
            value = None  # the value holds times: any of this agent's entries for the IP
        if table is None or not self.reachable():
            return False  # an outage keeps the entry; its next expiry check is after it
        if not table.remove(entry_key, value):
            return False
        self.metrics.inc(AgentCounter.LEARNED_EXPIRED)
        return True

    def lease_snat(self, request: SnatBlockRequest) -> list[int]:
        """Up to ``request.wanted`` blocks (none: every block is taken, or
        ZooKeeper is unreachable)."""
        if not self.reachable():
            self._unreachable()
            return []
        ip = str(ipaddress.IPv4Address(request.ip))
        blocks = self.services.leaser.lease_many(request.device_id, ip, request.port_start,
                                                 request.port_end, request.wanted)
        if not blocks:
            LOG.warning("no free SNAT port block on %s for %s", request.device_id, ip)
        return blocks

    def set_member_status(self, member_id: uuid.UUID, status: LBStatus) -> bool:
        """The health monitor's verdict on a pool member bound here; a
        version-checked write, so a concurrent API change is kept."""
        if not self.reachable():
            self._unreachable()
            return False
        try:
            self.services.store.update_with(PoolMember, member_id,
                                            lambda m: m.replace(status=status))
        except NotFound:
            return False  # deleted meanwhile
        except (StoreError, ZookeeperError) as e:
            LOG.warning("pool member %s: status %s not written (%s)", member_id,
                        status.value, e)
            return False
        LOG.info("pool member %s is now %s (health monitor)", member_id, status.value)
        self.metrics.inc(AgentCounter.HEALTH_STATUS_WRITTEN)
        return True

    def port_bound(self, binding: LocalBinding, remembered_key: int | None,
                   bridge_iface: Callable[[str, int], None]) -> None:
        if remembered_key != binding.tunnel_key:
            bridge_iface(binding.interface, binding.tunnel_key)
        hosts.publish_port_active(self.services.keys, binding.port_id, binding.tunnel_key)
        LOG.info("bound port %s to %s (ofport %d, tunnel key %#x)", binding.port_id,
                 binding.interface, binding.ofport, binding.tunnel_key)

    def port_unbound(self, binding: LocalBinding, still_bound_here: bool) -> None:
        if not still_bound_here:
            hosts.withdraw_port_active(self.services.keys, binding.port_id)
        LOG.info("unbound port %s from %s", binding.port_id, binding.interface)

    def record_trace(self, trace_id: uuid.UUID, limit: int, record: dict[str, Any]) -> bool:
        """Store a live trace record; True once the request holds ``limit`` of them.

        Records are sequential znodes, so every host's writes are numbered in
        one sequence and the bound holds across hosts: a record numbered past
        the limit is deleted again.
        """
        zk = self.services.zk
        if not self.reachable():
            self._unreachable()
            return False
        root = self.services.store.paths.trace_flows(trace_id)
        try:
            created = zk.create(f"{root}/flow-", json.dumps(record, default=str).encode(),
                                sequence=True, makepath=True)
        except ZookeeperError as e:
            LOG.warning("trace %s: record not stored (%s)", trace_id, e)
            return False
        seq = int(created.rsplit("-", 1)[1])
        if seq >= limit:
            try:
                zk.delete(created)
            except ZookeeperError:
                pass
            return True
        self.metrics.inc(AgentCounter.TRACES_RECORDED)
        return seq + 1 >= limit

    def publish_interfaces(self, ifaces: list[Any], ports: Any) -> None:
        """The host's interfaces on the integration bridge, as the REST API shows
        them (``hosts/{id}/interfaces``); written only when they change."""
        bound = {b.interface: str(b.port_id) for b in ports.bindings.values()}
        listing = sorted(
            ({"name": i.name, "type": i.type or "system", "ofport": i.ofport,
              "portId": bound.get(i.name) or i.iface_id} for i in ifaces),
            key=lambda d: d["name"])
        if listing == self._interfaces:
            return
        self._interfaces = listing
        self.services.keys.set("Host", self.services.keys.namespace, "interfaces",
                               json.dumps(listing).encode())

    def recover_session(self) -> None:
        """A new ZooKeeper session: re-create what died with the old one.

        Unlike MidoNet's agent, which shut down after ``session_gracetime``,
        this one keeps forwarding on its cached state throughout, restores
        its ephemeral keys and writes back what it had learned (watches
        re-arm by themselves).
        """
        restored = self.services.keys.restore() + self.services.leaser.restore()
        relearned = self._write_lost_learnings()
        LOG.warning("ZooKeeper session replaced; restored %d ephemeral keys and %d learned "
                    "entries", restored, relearned)

    def _write_lost_learnings(self) -> int:
        """The MAC and ARP entries this agent had learned died with its old
        session: write back each one no other host learned since."""
        written = 0
        for table in list(self.tables.values()):
            writer = getattr(table, "writer", None)
            if writer is None:
                continue
            for key, value in writer.take_lost():
                current = table.get(key)
                if current is not None and current != value:
                    continue  # learned elsewhere meanwhile: that host's entry stands
                try:
                    table.add(key, value)
                except Exception:  # noqa: BLE001 - learned again on its next packet
                    LOG.debug("could not write back %s -> %s", key, value, exc_info=True)
                    continue
                written += 1
        return written
