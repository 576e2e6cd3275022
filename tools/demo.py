"""The sandbox's demo tenant, built the way a user builds one: through the REST API.

Tenant ``demo``: networks ``front`` (198.51.100.0/25) and ``back``
(198.51.100.128/25) behind router ``edge``, whose uplink is on ``public``
(203.0.113.0/24, where the "internet" host lives); SNAT of both networks to
the router's public address; floating IP 203.0.113.20 for ``vm2``; a
security group (chain ``sg-web``) on ``vm2``'s port that accepts ping and TCP
8080 and drops TCP 9090; a stateful port group (ingress set) ``ha-front``
holding ``vm1``'s and ``vm3``'s ports, so each one's host gets the other's
connection state.

Every call is a request to the API (midonet-cli's client); bindings and port group
members go through ``midonet-cli`` as an operator would type them.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from typing import Any

from midonet_cli.client import Client, CliError
from midonet_cli.settings import Settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TENANT = "demo"
FRONT, BACK, PUBLIC = "198.51.100.0/25", "198.51.100.128/25", "203.0.113.0/24"
FRONT_GW, BACK_GW, PUBLIC_GW = "198.51.100.1", "198.51.100.129", "203.0.113.1"
VM1, VM3, VM2 = "198.51.100.10", "198.51.100.11", "198.51.100.140"
INTERNET = "203.0.113.100"
FLOATING_IP = "203.0.113.20"
ALLOWED_TCP, DROPPED_TCP = 8080, 9090


def connect(url: str, user: str, password: str) -> Client:
    """The API as ``user``, through midonet-cli's own client (login, token reuse,
    the API's error messages)."""
    return Client(Settings(api_url=url, username=user, password=password))


def cli(api_url: str, user: str, password: str, *args: str) -> str:
    """Run ``midonet-cli`` as a separate process, as an operator would."""
    env = dict(os.environ, MIDO_API_URL=api_url, MIDO_USER=user, MIDO_PASSWORD=password)
    env.pop("MIDONETRC", None)
    proc = subprocess.run([sys.executable, "-m", "midonet_cli.main", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise CliError(f"midonet-cli {' '.join(args)}: {proc.stderr.strip() or proc.stdout}")
    return proc.stdout


@dataclasses.dataclass
class Demo:
    bridges: dict[str, dict[str, Any]]
    router: dict[str, Any]
    router_ports: dict[str, dict[str, Any]]
    vm_ports: dict[str, dict[str, Any]]
    sg: dict[str, Any]
    port_group: dict[str, Any]


def _router_port(api: Client, router: dict[str, Any], bridge: dict[str, Any], address: str,
                 cidr: str, mac: str) -> dict[str, Any]:
    net, plen = cidr.split("/")
    rport = api.post(router["ports"], {"name": f"{router['name']}-{bridge['name']}",
                                       "portAddress": address, "networkAddress": net,
                                       "networkLength": int(plen), "portMac": mac})
    bport = api.post(bridge["ports"], {"name": f"{bridge['name']}-{router['name']}"})
    api.post(rport["link"], {"peerId": bport["id"]})
    return rport


def build(api: Client, api_url: str, user: str, password: str,
          placement: dict[str, str]) -> Demo:
    """Create the demo; ``placement`` maps vm1, vm2, vm3, internet to host ids.
    Each VM's interface on its host is named ``tap<vm>`` (as the lab plugs it)."""
    bridges = {name: api.post("/bridges", {"name": name, "tenantId": TENANT})
               for name in ("front", "back", "public")}
    router = api.post("/routers", {"name": "edge", "tenantId": TENANT})
    rports = {
        "front": _router_port(api, router, bridges["front"], FRONT_GW, FRONT,
                              "02:ee:00:00:01:01"),
        "back": _router_port(api, router, bridges["back"], BACK_GW, BACK, "02:ee:00:00:01:02"),
        "public": _router_port(api, router, bridges["public"], PUBLIC_GW, PUBLIC,
                               "02:ee:00:00:01:03"),
    }
    nets = {"vm1": "front", "vm3": "front", "vm2": "back", "internet": "public"}
    vm_ports = {vm: api.post(bridges[net]["ports"], {"name": vm}) for vm, net in nets.items()}

    # the security group of vm2: toward the VM (its port's outbound filter)
    sg = api.post("/chains", {"name": "sg-web", "tenantId": TENANT})
    for rule in ({"type": "accept", "matchReturnFlow": True},
                 {"type": "accept", "dlType": 0x0806},
                 {"type": "accept", "dlType": 0x0800, "nwProto": 1},
                 {"type": "accept", "dlType": 0x0800, "nwProto": 6,
                  "tpDst": {"start": ALLOWED_TCP, "end": ALLOWED_TCP}},
                 {"type": "drop", "dlType": 0x0800, "nwProto": 6,
                  "tpDst": {"start": DROPPED_TCP, "end": DROPPED_TCP}}):
        api.post(sg["rules"], rule)
    vm2 = vm_ports["vm2"]
    vm_ports["vm2"] = api.put(vm2["uri"], dict(vm2, outboundFilterId=sg["id"]))

    # NAT on the router: the floating IP first, then SNAT of the tenant networks
    uplink = rports["public"]["id"]
    inbound = api.post("/chains", {"name": "edge-in", "tenantId": TENANT})
    outbound = api.post("/chains", {"name": "edge-out", "tenantId": TENANT})
    api.post(inbound["rules"], {"type": "dnat", "flowAction": "accept", "inPorts": [uplink],
                                "nwDstAddress": FLOATING_IP, "nwDstLength": 32,
                                "natTargets": [{"addressFrom": VM2, "addressTo": VM2}]})
    api.post(inbound["rules"], {"type": "rev_snat", "flowAction": "accept",
                                "inPorts": [uplink], "nwDstAddress": PUBLIC_GW,
                                "nwDstLength": 32})
    api.post(outbound["rules"], {"type": "snat", "flowAction": "accept", "outPorts": [uplink],
                                 "nwSrcAddress": VM2, "nwSrcLength": 32,
                                 "natTargets": [{"addressFrom": FLOATING_IP,
                                                 "addressTo": FLOATING_IP}]})
    api.post(outbound["rules"], {"type": "snat", "flowAction": "accept", "outPorts": [uplink],
                                 "nwSrcAddress": "198.51.100.0", "nwSrcLength": 24,
                                 "natTargets": [{"addressFrom": PUBLIC_GW,
                                                 "addressTo": PUBLIC_GW,
                                                 "portFrom": 1024, "portTo": 65535}]})
    router = api.put(router["uri"], dict(router, inboundFilterId=inbound["id"],
                                                 outboundFilterId=outbound["id"]))

    # the ingress set, and the bindings: as an operator types them
    group = api.post("/port_groups", {"name": "ha-front", "tenantId": TENANT,
                                      "stateful": True})
    for vm in ("vm1", "vm3"):
        cli(api_url, user, password, "port-group", "add-member", group["id"],
            vm_ports[vm]["id"])
    for vm, host_id in placement.items():
        cli(api_url, user, password, "port", "bind", vm_ports[vm]["id"], "--host", host_id,
            "--interface", f"tap{vm}"[:15])
    return Demo(bridges, router, rports, vm_ports, sg, group)
