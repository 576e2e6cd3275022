"""``midonet-agent`` with benchmark-side workarounds for known agent bugs.

The flow-setup benchmark runs the real agent. Where an agent bug would stop
a path from being measured at all, the benchmark launches the agent through
this module instead, which patches exactly that bug and then runs
``apps.launcher.main()`` unchanged. Each workaround is detected first (see
``needed()``) and reported in the benchmark's output, so the figures say
what they measured; once the agent is fixed, ``needed()`` returns nothing
and the plain launcher runs.

Workarounds:

* ``icmp_id``: connection tracking and NAT add ``icmp_id`` to the fields a
  simulation read for every packet, TCP and UDP included, and
  ``datapath.translate.build_match`` refuses to build a match naming
  ``icmp_id`` (OpenFlow cannot match it). So every result that touched
  conntrack or NAT is "uncacheable": no flow is installed and every packet
  of every connection goes to the agent. The patch drops ``icmp_id`` from the
  fields when the packet has none (it is not ICMP), which is exact: such a
  packet has no ICMP identifier to match.
* ``nxm_order``: OS-Ken's ``OFPMatch`` sorts its fields by OXM type number,
  which puts Nicira-class fields (``nw_ttl``, ``ip_frag``: class 0x0001,
  numbers below the OpenFlow-basic class 0x8000) *before* ``eth_type``.
  Open vSwitch checks prerequisites in wire order and answers every such
  flow-mod with ``OFPBMC_BAD_PREREQ``: a routed flow (it matches the TTL it
  rewrites) or a conntrack flow (it matches ``ip_frag``) is never
  installed, and the agent's ``flows_installed`` counter still counts it.
  The patch re-orders the built match: OpenFlow-basic fields first, the
  others after, each group in OS-Ken's order.
"""
from __future__ import annotations

import sys


def needed() -> list[str]:
    """Workarounds the agent in this tree needs (probed without any I/O)."""
    from benchmarks.simulation import _stateful
    from midonet_ryu.datapath.translate import Untranslatable, build_match
    from midonet_ryu.simulation.engine import simulate

    s, matches, _ = _stateful(2)
    result = simulate(matches[0], s.topology, s.state, s.now)
    fixes = []
    fields = set(result.wildcard)
    try:
        ofmatch = build_match(matches[0], fields, 1)
    except Untranslatable:
        fixes.append("icmp_id")
        ofmatch = build_match(matches[0], fields - {"icmp_id"}, 1)
    # Only an OS-Ken OFPMatch can be in OS-Ken's order; a translation that
    # returns its own wire-ordered fields needs no re-ordering.
    if hasattr(ofmatch, "_fields2") and _reordered(ofmatch) is not None:
        fixes.append("nxm_order")
    return fixes


_BASIC = 0x8000 << 7  # OXM numbers of the OpenFlow-basic class start here (OS-Ken's numbering)


_basic_by_name: dict[str, bool] = {}


def _reordered(ofmatch):  # noqa: ANN001, ANN202 - an os_ken OFPMatch
    """The match with OpenFlow-basic fields first, or None when already so.

    Called for every flow the agent installs: the class of each field name is
    looked up once, so the check costs a few dict probes per flow.
    """
    fields = ofmatch._fields2  # noqa: SLF001 - OS-Ken keeps the wire order here
    pairs = [(f, _is_basic(*f)) for f in fields]
    ordered = [f for f, b in pairs if b] + [f for f, b in pairs if not b]
    if ordered == fields:
        return None
    from os_ken.ofproto import ofproto_v1_3_parser as parser

    return parser.OFPMatch(_ordered_fields=ordered)


def _is_basic(name: str, value: object) -> bool:
    found = _basic_by_name.get(name)
    if found is None:
        from os_ken.ofproto import ofproto_v1_3 as ofp

        num = ofp.oxm_from_user(name, value)[0]
        found = _basic_by_name[name] = not isinstance(num, tuple) and num >= _BASIC
    return found


def _patch(fixes: list[str]) -> None:
    import apps.agent
    from midonet_ryu.datapath import translate

    original = translate.build_match
    drop_icmp_id = "icmp_id" in fixes
    reorder = "nxm_order" in fixes

    def build_match(match, fields, in_ofport):  # noqa: ANN001, ANN202 - same signature
        if drop_icmp_id and getattr(match, "icmp_id", None) is None:
            fields = set(fields) - {"icmp_id"}
        ofmatch = original(match, fields, in_ofport)
        if reorder and hasattr(ofmatch, "_fields2"):
            ofmatch = _reordered(ofmatch) or ofmatch
        return ofmatch

    translate.build_match = build_match
    apps.agent.build_match = build_match


def main(argv: list[str]) -> int:
    """``python -m benchmarks._agent_shim WORKAROUND[,...] --config-file ...``"""
    import apps.launcher  # eventlet is monkey-patched on this import, first

    fixes = [f for f in argv[0].split(",") if f]
    unknown = set(fixes) - {"icmp_id", "nxm_order"}
    if unknown:
        raise SystemExit(f"unknown workarounds: {sorted(unknown)}")
    _patch(fixes)
    return apps.launcher.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
