"""A VM flooding new flows beside a VM opening them at a modest rate, on one
saturated agent: ``python -m benchmarks packet_in_fairness [--quick] [--json]``.

The deployment and the traffic are ``tools/lab/packet_in_flood.py``'s: three
flooding ports behind a 1,000-rule chain, each frame a new flow, and a light
port sending 75 new flows per second to a VM on the other host. Two
configurations in one run:

* ``agent_only``: the switch's packet-in limit off
  (``packet_in_rate_limit = 0``), so the agent's inbox alone decides who is
  shed;
* ``default``: the switch limiting packet-ins to 2,000/s (round robin by
  ingress port), the agent's inbox behind it.

Figures per configuration: ``light_delivered_ratio`` (the light port's new
flows that reached the other VM), ``packet_ins_shed`` by the agent,
``flood_offered_per_s`` (frames the flooding ports got into the switch) and
``packet_ins_handled_per_s``. ``--quick`` sends 150 light flows each, the
full run 600.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any

from tools.lab import packet_in_flood
from tools.lab.cloud import Cloud

CONFIGS = {
    "agent_only": {"agent": {"packet_in_rate_limit": "0"}},
    "default": {},
}


def run(quick: bool = False) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    light_flows = 150 if quick else 600
    with tempfile.TemporaryDirectory(prefix="mr-bench-fair-") as workdir:
        for name, agent_conf in CONFIGS.items():
            cloud = Cloud(2, workdir=os.path.join(workdir, name), agent_extra=agent_conf)
            cloud.start()
            try:
                got = packet_in_flood.run(packet_in_flood.build(cloud), light_flows)
            finally:
                cloud.stop()
            figures.update({f"{name}_{key}": value for key, value in got.items()})
    return figures
