"""[neutron]: the cluster's side of the OpenStack Neutron integration.

Neutron's plugin (``networking-midonet-ryu``) sends its resources to the REST
API's ``/neutron`` endpoints, and the cluster translates them. What Neutron
cannot tell is which gateway host carries which physical network: a flat or
VLAN provider network (an external network) reaches the outside through a
bridge port bound to an interface of each gateway host listed here.
"""
from oslo_config import cfg

GROUP = "neutron"

OPTS = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Serve the REST API's /neutron endpoints that Neutron's mechanism "
        "driver and L3 plugin send their resources to.",
    ),
    cfg.ListOpt(
        "provider_uplinks",
        default=[],
        help="Gateway uplinks of flat and VLAN provider networks, comma separated "
        "entries physnet:hostname:interface: each network whose "
        "provider:physical_network is physnet gets a bridge port bound to that "
        "interface of that host (the host's agent must run there). After adding a "
        "gateway, run midonet-ryu-neutron-sync so existing networks get theirs.",
    ),
    cfg.IntOpt(
        "status_max_wait",
        default=30,
        min=0,
        max=300,
        help="Longest time in seconds a GET /neutron/port_status long poll waits "
        "for a change.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
