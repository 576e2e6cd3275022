"""One VM floods new flows while another opens them at a modest rate, on one
host: what the packet-in path does to the light one when the agent is
saturated (its functional test and ``python -m benchmarks packet_in_fairness``).

VM A floods from several ports (a dummy port moves one frame per
ovs-vswitchd loop), each on a network of its own so that its floods reach no
port, and behind a long rule chain so that its flows cost the agent more
than the switch can offer. VM C (host 1) sends frames to MACs nobody has,
each a new flow flooded to VM B (host 2), which counts them.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid

from midonet_ryu.topology.rules import Chain, RuleAction
from tools.lab import traffic
from tools.lab.cloud import Cloud
from tools.lab.ovs import VmPort
from tools.scenario import rule

FRAMES_PER_FLOODER = 16384


@dataclasses.dataclass
class FloodLab:
    cloud: Cloud
    flooders: list[VmPort]
    light: VmPort  # C, host 1
    receiver: VmPort  # B, host 2


def build(cloud: Cloud, flooders: int = 3, chain_rules: int = 1000) -> FloodLab:
    hv1, hv2 = cloud.hosts[:2]
    calm = cloud.network("calm")
    long_chain = cloud.store.create(Chain(id=uuid.uuid4(), name="long"))
    for first in range(0, chain_rules, 250):  # none matches A's frames: each is evaluated
        with cloud.store.transaction() as tx:
            for i in range(first, min(first + 250, chain_rules)):
                tx.create(rule(RuleAction.DROP, nw_dst_ip=f"198.18.{i >> 8}.{i & 255}/32")
                          .replace(chain_id=long_chain.id))
    placed = [cloud.vm(hv1, cloud.network(f"busy{i}"), f"vm-a{i}",
                       inbound_filter_id=long_chain.id) for i in range(flooders)]
    pc, c = cloud.vm(hv1, calm, "vm-c")
    pb, b = cloud.vm(hv2, calm, "vm-b")
    cloud.settle(*[(hv1, p) for p, _ in placed], (hv1, pc), (hv2, pb))
    return FloodLab(cloud, [a for _, a in placed], c, b)


def _new_flows(a: VmPort) -> list[bytes]:
    """Frames to MACs nobody has: each is a new flow until simulated."""
    return [traffic.ipv4_udp(a.mac, f"02:aa:00:{a.mac[-2:]}:{i >> 8:02x}:{i & 255:02x}",
                             "192.0.2.1", "192.0.2.99") for i in range(FRAMES_PER_FLOODER)]


def _flood(a: VmPort, frames: list[bytes], stop: threading.Event, sent: list[int]) -> None:
    n = 0
    while not stop.is_set():
        a.send(frames[n % FRAMES_PER_FLOODER])
        n += 1
    sent.append(n)


def run(lab: FloodLab, light_flows: int = 150, light_rate: float = 75.0,
        warmup_s: float = 1.0) -> dict:
    """Flood, then send the light flows while it goes on; the figures."""
    hv1 = lab.cloud.hosts[0]
    before = hv1.agent.ctl("counters")
    stop, sent = threading.Event(), []
    frames = [_new_flows(a) for a in lab.flooders]
    threads = [threading.Thread(target=_flood, args=(a, f, stop, sent), daemon=True)
               for a, f in zip(lab.flooders, frames, strict=True)]
    flood_started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(warmup_s)  # the agent is saturated before C starts
    received: list[bytes] = []
    light_done = threading.Event()

    def collect() -> None:  # until 2 s after C's last frame
        while not light_done.is_set():
            received.extend(lab.receiver.recv_all(0.2))
        received.extend(lab.receiver.recv_all(2.0))

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    c = lab.light
    try:
        started = time.monotonic()
        for i in range(light_flows):
            c.send(traffic.ipv4_udp(c.mac, f"02:cc:00:00:{i >> 8:02x}:{i & 255:02x}",
                                   "198.51.100.3", "198.51.100.99", 2000 + i, 9))
            time.sleep(max(0.0, started + (i + 1) / light_rate - time.monotonic()))
        stop.set()  # the flood ends with C's frames; what is still queued drains
        flood_s = time.monotonic() - flood_started
        light_done.set()
        collector.join(10)
    finally:
        stop.set()
        light_done.set()
        for thread in threads:
            thread.join(10)
    after = hv1.agent.ctl("counters")
    delivered = sum(1 for f in received if traffic.matches(f, ethernet_src=c.mac))
    handled = after.get("packet_in", 0) - before.get("packet_in", 0)
    return {
        "flood_frames": sum(sent),
        "flood_offered_per_s": round(sum(sent) / flood_s),
        "packet_ins_handled_per_s": round(handled / flood_s),
        "packet_ins_shed": after.get("packet_in_shed", 0) - before.get("packet_in_shed", 0),
        "light_flows": light_flows,
        "light_delivered": delivered,
        "light_delivered_ratio": round(delivered / light_flows, 3),
    }
