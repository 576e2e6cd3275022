"""[agent]: the per-hypervisor agent and its local Open vSwitch."""
from oslo_config import cfg

GROUP = "agent"

OPTS = [
    cfg.StrOpt(
        "integration_bridge",
        default="br-int",
        help="OVS bridge the agent owns; VM interfaces and tunnel ports attach here.",
    ),
    cfg.StrOpt(
        "ovsdb_connection",
        default="unix:/var/run/openvswitch/db.sock",
        help="OVSDB endpoint of the local Open vSwitch.",
    ),
    cfg.FloatOpt("ovsdb_timeout", default=10.0, min=0.1, help="Seconds per OVSDB transaction."),
    cfg.StrOpt(
        "datapath_type",
        default="system",
        choices=["system", "netdev", "dummy"],
        help="datapath_type of the integration bridge (netdev/dummy: userspace).",
    ),
    cfg.HostAddressOpt(
        "openflow_listen_address",
        default="127.0.0.1",
        help="Address the agent's OpenFlow controller listens on.",
    ),
    cfg.PortOpt(
        "openflow_listen_port",
        default=6653,
        help="Port the agent's OpenFlow controller listens on.",
    ),
    cfg.StrOpt(
        "openflow_controller_target",
        help="How Open vSwitch reaches the agent, e.g. 'tcp:127.0.0.1:6653' or "
        "'unix:/var/run/openvswitch/midonet.sock'; defaults to tcp: on "
        "openflow_listen_address and openflow_listen_port.",
    ),
    cfg.StrOpt(
        "underlay_ip",
        help="This host's tunnel endpoint address, used in every tunnel zone not named "
        "in tunnel_zone_underlay. Required unless underlay_interface is set.",
    ),
    cfg.StrOpt(
        "underlay_interface",
        help="Take the underlay address from this interface's first IPv4 address.",
    ),
    cfg.DictOpt(
        "tunnel_zone_underlay",
        default={},
        help="Per tunnel zone (name or UUID) underlay address of this host, e.g. "
        "'gre-zone:192.0.2.1,vxlan-zone:198.51.100.1'.",
    ),
    cfg.ListOpt(
        "tunnel_zones",
        default=[],
        help="Tunnel zones (name or UUID) this host joins at start; created as VXLAN "
        "zones when missing.",
    ),
    cfg.StrOpt(
        "tunnel_type",
        default="vxlan",
        choices=["vxlan", "gre"],
        help="Encapsulation of the flow-based tunnel port used for zones created by "
        "this agent.",
    ),
    cfg.IntOpt(
        "flow_idle_timeout",
        default=60,
        min=0,
        help="Idle timeout (s) of flows installed for simulated packets.",
    ),
    cfg.IntOpt(
        "flow_hard_timeout",
        default=0,
        min=0,
        help="Hard timeout (s) of flows installed for simulated packets (0: none).",
    ),
    cfg.FloatOpt(
        "reconcile_grace",
        default=10.0,
        min=0.0,
        help="Seconds after (re)connecting to the switch before flows left by an "
        "earlier agent run are removed; they keep forwarding meanwhile while this "
        "run re-learns the paths still in use.",
    ),
    cfg.FloatOpt(
        "host_down_hold",
        default=3.0,
        min=0.0,
        help="Seconds a remote host's ZooKeeper session must stay gone before "
        "this agent stops tunnelling to its ports (and skips it in floods). "
        "Rides out an agent restarting or resuming in a new session, whose "
        "datapath forwards meanwhile.",
    ),
    cfg.BoolOpt(
        "topology_on_demand",
        default=True,
        help="Load the topology on demand: this host's record and ports at start, "
        "any other device (and its watches) only when a simulation from a local "
        "port reaches it; devices out of use for topology_idle_expiry are dropped "
        "again. False loads and watches every object of the cloud, as before.",
    ),
    cfg.FloatOpt(
        "topology_idle_expiry",
        default=300.0,
        min=1.0,
        help="Seconds a loaded device (a network or router with its ports, routes, "
        "chains and rules) may go without a flow or a simulation before it is "
        "dropped with its watches. It is loaded again by the next packet that "
        "reaches it.",
    ),
    cfg.IntOpt(
        "topology_waits",
        default=1024,
        min=16,
        max=65536,
        help="Packets that may wait for topology being loaded (then simulated "
        "again); when full the oldest is dropped (topology_waits_dropped).",
    ),
    cfg.IntOpt(
        "flow_state_key_ttl",
        default=60,
        min=4,
        max=3600,
        help="Seconds a conntrack or NAT key lives after the last simulation that used "
        "it (MidoNet's 60 s). Stateful flows are re-simulated every half of it, which "
        "refreshes their keys here and on the peer hosts; peers keep an imported key "
        "1.5 times as long, and forget it when it expires here (a withdrawal).",
    ),
    cfg.IntOpt(
        "flow_state_dscp",
        default=0,
        min=0,
        max=63,
        help="DSCP of flow-state packets between agents (MidoNet's option), so the "
        "underlay can prioritise them; 0 leaves them unmarked. When set, this "
        "agent's tunnel ports copy the inner DSCP to the outer header "
        "(options:tos=inherit), which then applies to VM traffic too.",
    ),
    cfg.StrOpt(
        "flow_state_file",
        default="/var/lib/midonet-ryu/flow-state.json",
        help="File where the agent keeps its conntrack, NAT and load-balancer keys "
        "and its SNAT port blocks, written about once a second while they change, "
        "and reloaded at start before any flow of the previous run is removed, so "
        "established connections survive an agent restart with the same "
        "translation (doc/flow-state.md). Empty: not kept.",
    ),
    cfg.IntOpt(
        "flow_state_file_max_keys",
        default=100_000,
        min=0,
        help="The most keys the flow-state file holds (the most recently used ones).",
    ),
    cfg.FloatOpt(
        "mac_port_mapping_expire",
        default=30.0,
        min=0.1,
        help="Seconds after the last flow from a learned MAC on a local port ended "
        "(or after the last packet from it that made no flow) before this agent "
        "removes the MAC-table entry it wrote, so a silent VM's entry does not live "
        "for ever (MidoNet's bridge option of that name). Router ARP entries this "
        "agent learned go when they expire.",
    ),
    cfg.FloatOpt(
        "arp_expiration",
        default=90.0,
        min=1.0,
        help="Seconds a router ARP entry this agent learned is used (MidoNet's "
        "arp_expiration); the agent removes it from the NSDB then, unless it was "
        "learned again.",
    ),
    cfg.FloatOpt(
        "arp_stale",
        default=60.0,
        min=0.5,
        help="Seconds after which a learned router ARP entry is refreshed: the next "
        "packet routed to it sends an ARP request (MidoNet's arp_stale). Must be "
        "below arp_expiration.",
    ),
    cfg.IntOpt(
        "drop_flow_hard_timeout",
        default=5,
        min=1,
        help="Hard timeout (s) of drop flows, so floods of bad packets stay off the "
        "controller without blocking a path for long.",
    ),
    cfg.IntOpt(
        "packet_in_queue_size",
        default=1024,
        min=16,
        help="OpenFlow messages queued for the agent's handlers; when full, the "
        "switch connection is not read until there is room, so Open vSwitch "
        "buffers and then drops packet-ins instead of the agent growing without bound.",
    ),
    cfg.IntOpt(
        "packet_in_backlog",
        default=256,
        min=16,
        max=65536,
        help="Packet-ins read from the switch and waiting to be simulated. They are "
        "served in turn by ingress (OpenFlow port and tunnel key); when the agent "
        "falls behind and this is full, the oldest packet of the ingress with the "
        "most waiting is dropped (packet_in_shed), so a VM that floods new flows "
        "cannot take the turns of the other ports.",
    ),
    cfg.IntOpt(
        "packet_in_rate_limit",
        default=2000,
        min=0,
        help="Packet-ins per second Open vSwitch sends the agent at most "
        "(Controller controller_rate_limit; 0: unlimited, else at least 100). "
        "Packets over the limit are dropped in the switch and counted there.",
    ),
    cfg.IntOpt(
        "packet_in_burst_limit",
        default=500,
        min=0,
        help="Packet-ins sent at once above packet_in_rate_limit (controller_burst_limit; "
        "0: OVS's default, a quarter of the rate).",
    ),
    cfg.StrOpt(
        "control_socket",
        default="/var/run/midonet-ryu/agent.sock",
        help="Unix socket where the agent answers inspection requests "
        "(midonet-agent-ctl).",
    ),
    cfg.HostAddressOpt(
        "metrics_listen_address",
        default="127.0.0.1",
        help="Address the agent serves Prometheus metrics on (GET /metrics). Loopback "
        "by default: the metrics name ports and peers, so exposing them is a choice.",
    ),
    cfg.PortOpt(
        "metrics_port",
        default=7300,
        help="Port of the agent's Prometheus endpoint (MidoNet agent's 7300); 0 disables it.",
    ),
]
