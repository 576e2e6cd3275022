"""Every metric of the agent, declared once (prometheus-client).

Why one module: the decision core names what happened (an
:class:`AgentCounter` in its outcome), the shell bumps the matching
Prometheus counter, and the Prometheus endpoint and ``midonet-agent-ctl
counters`` read the same registry. A counter that is not declared here cannot
be counted anywhere, so nothing is counted under two spellings.

The registry is injectable (tests give each agent a fresh one), as FAUCET's
``faucet_metrics`` does. Declaring metrics does no I/O; serving them is the
shell's job.
"""
from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

AGENT_PREFIX = "midonet_agent"


class AgentCounter(enum.Enum):
    """What the agent counts; the value is the metric's help text."""

    PACKET_IN = "Packet-ins received from the integration bridge."
    PACKET_IN_NOT_READY = "Packet-ins dropped because the agent was not ready yet."
    PACKET_IN_UNKNOWN_PORT = "Packet-ins from an OpenFlow port bound to no virtual port."
    PACKET_IN_SHED = ("Packet-ins dropped because the agent's inbox was full (the oldest of "
                      "the ingress with the most waiting).")
    PACKET_IN_ERRORS = "Packet-ins whose handling raised; the packet was dropped."
    MALFORMED_PACKETS = "Frames that failed to parse; dropped."
    SIMULATION_ERRORS = "Simulations that raised; the packet was dropped."
    EXECUTION_ERRORS = "Simulation results that could not be executed; dropped."
    FLOWS_INSTALLED = "Flows installed from simulation results."
    FLOWS_INVALIDATED = "Flows deleted because something they depended on changed."
    FLOWS_EVICTED = "Flows deleted to keep the flow index within its bound."
    FLOWS_REFUSED = "Flow-mods the switch refused; their flows left the index."
    UNCACHEABLE = "Results executed without a flow because OpenFlow cannot match them."
    USERSPACE_EXECUTIONS = "Packets rewritten by the agent itself (no flow could do it)."
    USERSPACE_ERRORS = "Packets the agent could not rewrite in userspace."
    SPLIT_EXECUTIONS = ("Packets whose actions exceed one OpenFlow message (a flood to "
                        "over a thousand remote ports): sent by several packet-outs, no flow.")
    DROPPED = "Packets dropped by the simulation (with or without a drop flow)."
    GENERATED_PACKETS = "Frames the simulation generated (ARP, ICMP, DHCP replies) sent."
    GENERATED_LOOPS = "Generated frames dropped because they kept generating frames."
    ARP_REQUESTS_SUPPRESSED = "ARP requests not sent again within the retry interval."
    FLOW_STATE_SENT = "Flow-state packets sent to peer hosts."
    FLOW_STATE_RECEIVED = "Flow-state packets received from peer hosts."
    FLOW_STATE_MALFORMED = "Flow-state packets that failed to decode; dropped."
    FLOW_STATE_ERRORS = "Failures building flow-state packets (state not replicated)."
    FLOW_STATE_KEYS_SENT = "State keys sent to peer hosts."
    FLOW_STATE_KEYS_SUPPRESSED = "State keys not sent again because the peer had them."
    FLOW_STATE_KEYS_IMPORTED = "State keys imported from peer hosts."
    FLOW_STATE_KEYS_WITHDRAWN = ("State keys that expired here withdrawn from the peer hosts "
                                 "they had been sent to.")
    FLOW_STATE_WITHDRAWALS_APPLIED = "State keys removed because their sender withdrew them."
    FLOW_STATE_WITHDRAWALS_KEPT = ("Withdrawn state keys kept because a simulation here used "
                                   "them since they arrived; they expire by their TTL.")
    FLOW_STATE_WITHDRAW_UNTRACKED = ("State keys beyond the withdrawal bookkeeping's bound; "
                                     "they expire on peers by their TTL instead.")
    FLOW_STATE_OWN_IGNORED = "Flow-state packets this host sent that came back; ignored."
    FLOW_STATE_PEER_UNREACHABLE = "Interested peer hosts with no tunnel address."
    FLOW_STATE_UNTRUSTED = ("Flow-state packets whose sender is not the tunnel-zone member "
                            "at their outer source address; dropped.")
    STATE_KEYS_EXPIRED = "Local conntrack and NAT keys expired."
    FLOW_STATE_RELOADED = ("Conntrack and NAT keys reloaded from the flow-state file at "
                           "start.")
    FLOW_STATE_BLOCKS_LOST = ("SNAT blocks of the flow-state file another host had leased "
                              "meanwhile; the keys translated into them were dropped.")
    FLOW_STATE_SAVES = "Writes of the flow-state file."
    FLOW_STATE_HANDED_OVER = ("Keys sent to the new host of a local port that migrated "
                              "(the keys its traffic made here).")
    MACS_LEARNED = "MAC-table entries written to the NSDB."
    ARPS_LEARNED = "ARP-table entries written to the NSDB."
    NSDB_UNREACHABLE = ("NSDB requests not attempted while ZooKeeper was unreachable: "
                        "learnings, tables and port keys are done when it is back, SNAT "
                        "leases and trace records are refused.")
    LEARNED_EXPIRED = ("Learned MAC and ARP entries this agent removed from the NSDB after "
                       "they aged out.")
    SNAT_BLOCKS_LEASED = "SNAT port blocks leased."
    SNAT_EXHAUSTED = "SNAT lease requests that found no free block."
    SNAT_LEASES_UNANSWERED = "SNAT leases asked for again after 10 s without an answer."
    SNAT_HELD = "Packets held until the SNAT block they need was leased, then simulated again."
    SNAT_HELD_DROPPED = ("Packets that needed a SNAT block and were dropped: the hold queue "
                         "was full, or no block could be leased.")
    TOPOLOGY_WAITS = ("Packets whose simulation reached topology not loaded here yet: they "
                      "waited for it to load and were simulated again.")
    TOPOLOGY_WAITS_DROPPED = ("Packets dropped while waiting for topology: the queue "
                              "([agent] topology_waits) was full, or the path kept reaching "
                              "more devices not loaded after 16 rounds.")
    TOPOLOGY_EVICTED = ("Topology objects dropped, with their watches, because no device in "
                        "use leads to them any more.")
    HEALTH_PROBES_SENT = "TCP probes sent to the pool members bound to this host."
    HEALTH_PROBES_FAILED = "Probes refused by a pool member or unanswered within the timeout."
    HEALTH_PROBES_ANSWERED = "Probes a pool member accepted (SYN-ACK)."
    HEALTH_STATUS_WRITTEN = "Pool member statuses (ACTIVE/INACTIVE) written to the NSDB."
    SWITCH_ERRORS = "Messages the switch refused (OpenFlow errors)."
    TRACES_RECORDED = "Live trace records stored for enabled trace requests."
    WORK_ITEMS_DROPPED = "Worker items dropped because the work queue was full."
    WORKER_ERRORS = "Worker items that raised."
    ZOOKEEPER_SESSIONS_LOST = "ZooKeeper sessions lost (expired)."

    @property
    def metric_name(self) -> str:
        return self.name.lower()


class FastHistogram:
    """A histogram for the packet path: bisect into int counts, no lock.

    prometheus-client's own Histogram costs about 1.5 us an observation (a
    lock and a walk of every bucket); on a path that costs about 30 us a
    packet that is 5 %. All writers are green threads of one OS thread, so
    plain ints are safe; the collector turns them into a histogram family.
    """

    __slots__ = ("name", "help", "bounds", "counts", "total", "n")

    def __init__(self, name: str, help_text: str, bounds: tuple[float, ...]) -> None:
        self.name = name
        self.help = help_text
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def family(self) -> HistogramMetricFamily:
        buckets = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            buckets.append((repr(bound), running))
        buckets.append(("+Inf", self.n))
        return HistogramMetricFamily(self.name, self.help, buckets=buckets,
                                     sum_value=self.total)


class AgentMetrics:
    """The agent's Prometheus metrics on one registry.

    Counters are plain ints (``counts``) exported by a collector at scrape
    time: bumping one is a dict update, not a locked Prometheus call. Gauges
    are set from the shell's periodic tick.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.counts: dict[AgentCounter, int] = dict.fromkeys(AgentCounter, 0)
        self.packet_in_seconds = FastHistogram(
            f"{AGENT_PREFIX}_packet_in_seconds",
            "From reading a packet-in to handing its messages to the switch connection.",
            (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 10e-3, 0.1))
        self.simulation_seconds = FastHistogram(
            f"{AGENT_PREFIX}_simulation_seconds", "Time of one simulation.",
            (10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 1e-3, 10e-3))
        self.state_proxy_update_seconds = FastHistogram(
            f"{AGENT_PREFIX}_state_proxy_update_seconds",
            "From receiving a State Proxy update to applying it to the table.",
            (10e-6, 50e-6, 100e-6, 500e-6, 1e-3, 5e-3, 50e-3))
        reg.register(_AgentCollector(self))
        self.flows = Gauge(f"{AGENT_PREFIX}_flows", "Simulated flows in the flow index.",
                           registry=reg)
        self.local_ports = Gauge(f"{AGENT_PREFIX}_local_ports",
                                 "Virtual ports bound to this host's interfaces.", registry=reg)
        self.remote_hosts_down = Gauge(
            f"{AGENT_PREFIX}_remote_hosts_down",
            "Hosts of remote ports whose ZooKeeper session is gone: not tunnelled to.",
            registry=reg)
        self.work_queue_depth = Gauge(f"{AGENT_PREFIX}_work_queue_depth",
                                      "Items waiting for the agent's worker.", registry=reg)
        self.packet_in_queue_depth = Gauge(
            f"{AGENT_PREFIX}_packet_in_queue_depth",
            "Packet-ins read from the switch and not handled yet.", registry=reg)
        self.zookeeper_connected = Gauge(
            f"{AGENT_PREFIX}_zookeeper_connected",
            "1 while the ZooKeeper session is connected, 0 while suspended or lost.",
            registry=reg)
        self.nsdb_degraded = Gauge(
            f"{AGENT_PREFIX}_nsdb_degraded",
            "1 once ZooKeeper has been unreachable for longer than session_gracetime.",
            registry=reg)
        self.nsdb_disconnected_seconds = Gauge(
            f"{AGENT_PREFIX}_nsdb_disconnected_seconds",
            "How long ZooKeeper has been unreachable (0 while connected).", registry=reg)
        self.state_proxy_connected = Gauge(
            f"{AGENT_PREFIX}_state_proxy_connected",
            "1 while state tables are fed by a State Proxy, 0 while read from ZooKeeper.",
            registry=reg)
        self.gauges = (self.flows, self.local_ports, self.remote_hosts_down, self.work_queue_depth,
                       self.packet_in_queue_depth, self.zookeeper_connected,
                       self.nsdb_degraded, self.nsdb_disconnected_seconds,
                       self.state_proxy_connected)

    def inc(self, counter: AgentCounter, amount: int = 1) -> None:
        self.counts[counter] += amount

    def add(self, counts: Iterable[tuple[AgentCounter, int]]) -> None:
        """Apply the counts of a core outcome."""
        mine = self.counts
        for counter, amount in counts:
            mine[counter] += amount

    def snapshot(self) -> dict[str, float]:
        """Every non-zero counter by its short name, and the gauges (what
        ``midonet-agent-ctl counters`` prints)."""
        out: dict[str, float] = {c.metric_name: v for c, v in self.counts.items() if v}
        for family in self.registry.collect():
            if family.type == "gauge":
                for sample in family.samples:
                    out[sample.name.removeprefix(AGENT_PREFIX + "_")] = sample.value
        return out


class _AgentCollector(Collector):
    def __init__(self, metrics: AgentMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        for counter, value in m.counts.items():
            yield CounterMetricFamily(f"{AGENT_PREFIX}_{counter.metric_name}", counter.value,
                                      value=value)
        for hist in (m.packet_in_seconds, m.simulation_seconds, m.state_proxy_update_seconds):
            yield hist.family()


# -- the cluster daemon ---------------------------------------------------------------------

CLUSTER_PREFIX = "midonet_cluster"


class ClusterCounter(enum.Enum):
    """What the cluster daemon counts without labels: (subsystem, help text).

    The subsystem makes both spellings of a counter: the Prometheus name
    ``midonet_cluster_<subsystem>_<name>_total`` and the key
    ``<subsystem>.<name>`` of the health report.
    """

    CONNECTIONS_ACCEPTED = ("state_proxy", "State Proxy client connections accepted.")
    SUBSCRIBER_OVERFLOWS = ("state_proxy", "Updates that did not fit a subscriber's queue; "
                            "the subscription lags and is caught up later.")
    SLOW_DISCONNECTS = ("state_proxy", "Clients disconnected because a write to them blocked "
                        "for the channel timeout.")
    BAD_FRAMES = ("state_proxy", "Connections closed for a request frame that failed to decode.")
    BAD_REQUESTS = ("state_proxy", "Request frames whose message failed to decode; answered "
                    "with an error.")
    ZK_CHILD_READS = ("state_proxy", "Child-list reads of a state table from ZooKeeper "
                      "(snapshots the table caches loaded).")
    CHANGES = ("state_proxy", "State-table entry changes applied to the caches.")

    def __init__(self, subsystem: str, help_text: str) -> None:
        self.subsystem = subsystem
        self.help = help_text

    @property
    def metric_name(self) -> str:
        return f"{self.subsystem}_{self.name.lower()}"


class LabelledCounts:
    """A counter with one label whose values are declared up front, as plain ints.

    Declaring the values makes every series visible at 0 from the first scrape
    (a rate over a series that appears late misses its first increments), and
    ``inc`` is a dict update: the GC callback runs on every collection.
    """

    __slots__ = ("subsystem", "name", "help", "label", "counts")

    def __init__(self, subsystem: str, name: str, help_text: str, label: str,
                 values: Iterable[str]) -> None:
        self.subsystem = subsystem
        self.name = name
        self.help = help_text
        self.label = label
        self.counts: dict[str, int] = dict.fromkeys(values, 0)

    def inc(self, value: str, amount: int = 1) -> None:
        self.counts[value] += amount

    def family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(f"{CLUSTER_PREFIX}_{self.subsystem}_{self.name}",
                                     self.help, labels=(self.label,))
        for value, count in self.counts.items():
            family.add_metric((value,), count)
        return family


class ClusterMetrics:
    """The cluster daemon's Prometheus metrics on one registry.

    Same design as :class:`AgentMetrics`: counters bumped on the State Proxy's
    paths are plain ints exported by a collector; histograms are
    :class:`FastHistogram` (all writers are green threads of one OS thread).
    Gauges that are a size of something the service owns are read at scrape
    time (``Gauge.set_function``), so keeping them right costs the hot paths
    nothing; the ZooKeeper and per-service gauges are set on their (rare) events.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self._health_keys: dict[str, str] = {}
        self.counts: dict[ClusterCounter, int] = dict.fromkeys(ClusterCounter, 0)
        for counter in ClusterCounter:
            self._name(counter.subsystem, counter.name.lower())
        self.catch_ups = LabelledCounts(
            "state_proxy", "catch_ups",
            "Lagging or new subscriptions brought up to date, by what they were sent.",
            "kind", ("snapshot", "diff"))
        self.gc_collections = LabelledCounts(
            "gc", "collections", "Python garbage collections, by generation.",
            "generation", ("0", "1", "2"))
        for labelled in (self.catch_ups, self.gc_collections):
            self._name(labelled.subsystem, labelled.name)
        self.state_proxy_update_seconds = FastHistogram(
            self._name("state_proxy", "update_seconds"),
            "From a ZooKeeper change reaching a table cache to its update being handed to "
            "the subscribers (one observation per published update).",
            (0.5e-3, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 1.0))
        self.gc_max_pause_seconds = 0.0
        self._gc_max_pause_name = self._name("gc", "max_pause_seconds")
        reg.register(_ClusterCollector(self))
        self.state_proxy_connections = Gauge(
            self._name("state_proxy", "connections"), "State Proxy clients connected.",
            registry=reg)
        self.state_proxy_subscriptions = Gauge(
            self._name("state_proxy", "subscriptions"),
            "State-table subscriptions of the connected clients.", registry=reg)
        self.state_proxy_cached_tables = Gauge(
            self._name("state_proxy", "cached_tables"),
            "State tables the State Proxy caches (subscribed, or lingering after the last "
            "subscriber left).", registry=reg)
        self.zookeeper_connected = Gauge(
            self._name("zookeeper", "connected"),
            "1 while the ZooKeeper session is connected, 0 while suspended or lost.",
            registry=reg)
        self.service_running = Gauge(
            self._name("service", "running"),
            "1 while the cluster service runs on this node, 0 once it stopped or failed.",
            labelnames=("service",), registry=reg)

    def _name(self, subsystem: str, name: str) -> str:
        full = f"{CLUSTER_PREFIX}_{subsystem}_{name}"
        if full in self._health_keys:
            raise ValueError(f"cluster metric {full} declared twice")
        self._health_keys[full] = f"{subsystem}.{name}"
        return full

    def inc(self, counter: ClusterCounter, amount: int = 1) -> None:
        self.counts[counter] += amount

    def observe_gc_pause(self, generation: int, seconds: float) -> None:
        self.gc_collections.inc(str(generation))
        if seconds > self.gc_max_pause_seconds:
            self.gc_max_pause_seconds = seconds

    def snapshot(self) -> dict[str, float]:
        """Every sample by ``<subsystem>.<name>[{label=value}]`` (the health report).

        Histogram buckets are left out (``_count`` and ``_sum`` stay): the
        report is read by people and tests, the distribution by Prometheus.
        """
        out: dict[str, float] = {}
        for family in self.registry.collect():
            key = self._health_keys.get(family.name)
            if key is None:
                continue
            for sample in family.samples:
                suffix = sample.name[len(family.name):]
                if suffix in ("_bucket", "_created"):
                    continue
                if suffix == "_total":
                    suffix = ""
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[key + suffix + (f"{{{labels}}}" if labels else "")] = sample.value
        return out


class _ClusterCollector(Collector):
    def __init__(self, metrics: ClusterMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        for counter, value in m.counts.items():
            yield CounterMetricFamily(f"{CLUSTER_PREFIX}_{counter.metric_name}", counter.help,
                                      value=value)
        yield m.catch_ups.family()
        yield m.gc_collections.family()
        yield m.state_proxy_update_seconds.family()
        yield GaugeMetricFamily(m._gc_max_pause_name,
                                "Longest Python garbage-collection pause since the start.",
                                value=m.gc_max_pause_seconds)
