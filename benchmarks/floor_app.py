"""The floor of the flow-setup benchmark: a bare OS-Ken controller.

It answers every packet-in with exactly one flow-mod (``in_port, eth_src,
eth_dst`` -> output) and one packet-out, and does nothing else: no packet
parsing beyond slicing the two MAC addresses, no state, no bookkeeping. What
it sustains on a given Open vSwitch is what OS-Ken plus that switch can do;
the agent (which must also simulate and index each flow) is measured against
it in the same run (``benchmarks/flow_setup.py``).

Run as its own process, the way ``midonet-agent`` runs (eventlet, fully
monkey-patched before anything else is imported)::

    python -m benchmarks.floor_app --port 6699 --out 5,6,7,8

A packet goes out of ``--out``'s port number ``last byte of eth_dst mod
len(out)``: the benchmark spreads deliveries over several ports because a
dummy port's socket sends only one frame per ovs-vswitchd main-loop
iteration, and the agent's MAC table maps the same MACs to the same ports.
The app installs its own table-miss flow (-> controller, unbuffered) when
the switch connects, and prints ``floor ready`` on stdout.
"""
from __future__ import annotations

import os
import signal
import sys
import warnings

if __name__ == "__main__":
    os.environ["OSKEN_HUB_TYPE"] = "eventlet"
    warnings.filterwarnings("ignore", message=".*[Ee]ventlet.*")
    import eventlet

    # The same as apps/launcher.py: everything patched, not only threads.
    eventlet.monkey_patch()

from os_ken.base import app_manager  # noqa: E402
from os_ken.controller import ofp_event  # noqa: E402
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls  # noqa: E402
from os_ken.lib import addrconv  # noqa: E402
from os_ken.ofproto import ofproto_v1_3 as ofp  # noqa: E402
from os_ken.ofproto import ofproto_v1_3_parser as parser  # noqa: E402

OUT_PORTS_ENV = "FLOOR_OUT_PORTS"
IDLE_TIMEOUT = 60  # as the agent's default flow_idle_timeout


def parse_ports(text: str) -> list[int]:
    """``"5,6,7"`` -> ``[5, 6, 7]``."""
    return [int(p) for p in text.split(",") if p.strip()]


class FloorApp(app_manager.OSKenApp):
    """One flow-mod and one packet-out per packet-in, nothing else."""

    OFP_VERSIONS = [ofp.OFP_VERSION]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.out_ports = parse_ports(os.environ.get(OUT_PORTS_ENV, ""))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _features(self, ev) -> None:
        dp = ev.msg.datapath
        dp.send_msg(parser.OFPSetConfig(dp, ofp.OFPC_FRAG_NORMAL, ofp.OFPCML_NO_BUFFER))
        dp.send_msg(parser.OFPFlowMod(
            dp, priority=0, match=parser.OFPMatch(),
            instructions=[parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])]))
        dp.send_msg(parser.OFPBarrierRequest(dp))
        print(f"floor ready: dpid {dp.id:016x}", flush=True)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev) -> None:
        msg = ev.msg
        dp = msg.datapath
        in_port = msg.match["in_port"]
        data = msg.data
        out = self.out_ports[data[5] % len(self.out_ports)]
        actions = [parser.OFPActionOutput(out, 0)]
        dp.send_msg(parser.OFPFlowMod(
            dp, priority=10, idle_timeout=IDLE_TIMEOUT,
            match=parser.OFPMatch(in_port=in_port, eth_dst=addrconv.mac.bin_to_text(data[0:6]),
                                  eth_src=addrconv.mac.bin_to_text(data[6:12])),
            instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]))
        dp.send_msg(parser.OFPPacketOut(dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=in_port,
                                        actions=actions, data=data))


def run(quick: bool) -> dict:
    """``python -m benchmarks`` lists every module here; this one is a helper."""
    raise SystemExit("floor_app is the controller the flow_setup benchmark starts, not a "
                     "benchmark: python -m benchmarks flow_setup")


def main(argv: list[str] | None = None) -> int:
    import argparse

    from os_ken import cfg
    from os_ken.lib import hub

    ap = argparse.ArgumentParser(prog="python -m benchmarks.floor_app")
    ap.add_argument("--port", type=int, required=True, help="OpenFlow TCP port to listen on")
    ap.add_argument("--out", required=True, help="OpenFlow ports to output to: P1,P2,...")
    args = ap.parse_args(argv)
    os.environ[OUT_PORTS_ENV] = args.out
    cfg.CONF([], project="os_ken")
    cfg.CONF.set_override("ofp_listen_host", "127.0.0.1")
    cfg.CONF.set_override("ofp_tcp_listen_port", args.port)
    manager = app_manager.AppManager.get_instance()
    manager.load_apps(["os_ken.controller.ofp_handler", "benchmarks.floor_app"])
    services = manager.instantiate_apps(**manager.create_contexts())

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        os._exit(0)  # nothing to clean up: flows live in the switch

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    hub.joinall(services)
    return 0


if __name__ == "__main__":
    sys.exit(main())
