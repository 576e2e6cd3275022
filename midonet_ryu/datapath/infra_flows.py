"""The flows that are not simulation results: the pipeline's skeleton.

Table-miss flows, a local port's classification and tunnel-ingress flows,
the flow-state flows on each tunnel port, removal of an earlier agent run's
flows and of a port's flows. Built here, in one place, as message values for
the shell's one send path; the install and the delete of a port's flows come
from one description, so they can never disagree.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.local_ports import LocalBinding

_TO_CONTROLLER = (("output", of.OFPP_CONTROLLER),)


def switch_connected(generation: int) -> list[of.Message]:
    """What a (re)connected switch gets first: config, both table-miss flows,
    and the request for its simulated flows (earlier runs' ones are found there)."""
    infra, _ = pl.origin_cookie(pl.Origin.INFRA, generation)
    return [
        of.SetConfig(),
        of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_MISS, infra, ()),
        of.FlowMod(pl.TABLE_SIMULATED, pl.PRIO_MISS, infra, (), _TO_CONTROLLER),
        of.FlowStatsRequest(pl.TABLE_SIMULATED),
    ]


def _binding_flows(b: LocalBinding, tunnel_ofports: Iterable[int],
                   generation: int) -> list[of.FlowMod]:
    """A local port's table-0 flows: tunnel ingress for its key on every
    tunnel port, and classification of the traffic it sends."""
    ingress, _ = pl.origin_cookie(pl.Origin.TUNNEL_INGRESS, generation)
    infra, _ = pl.origin_cookie(pl.Origin.INFRA, generation)
    to_port = (("output", b.ofport),)
    flows = [of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_TUNNEL_INGRESS, ingress,
                        (("in_port", ofport), ("tunnel_id", b.tunnel_key)), to_port)
             for ofport in sorted(tunnel_ofports)]
    flows.append(of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_PORT_CLASSIFY, infra,
                            (("in_port", b.ofport),), goto=pl.TABLE_SIMULATED))
    return flows


def bind_port(b: LocalBinding, tunnel_ofports: Iterable[int],
              generation: int) -> list[of.Message]:
    return list(_binding_flows(b, tunnel_ofports, generation))


def unbind_port(b: LocalBinding, tunnel_ofports: Iterable[int],
                generation: int) -> list[of.Message]:
    """Delete exactly the flows :func:`bind_port` installed, then every
    simulated flow of packets that came in on the port."""
    out: list[of.Message] = [
        of.FlowDelete(f.table_id, match=f.match, strict_priority=f.priority)
        for f in _binding_flows(b, tunnel_ofports, generation)]
    out.append(of.FlowDelete(pl.TABLE_SIMULATED, match=(("in_port", b.ofport),)))
    return out


StateSource = tuple[int, str]
"""(tunnel ofport, peer underlay IP): where a peer's flow-state packets arrive."""


def _trusted_source(source: StateSource, cookie: int) -> of.FlowMod:
    ofport, ip = source
    return of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_FLOW_STATE, cookie,
                      (("in_port", ofport), ("tunnel_id", pl.FLOW_STATE_TUNNEL_KEY),
                       ("tun_ipv4_src", int(ipaddress.IPv4Address(ip)))), _TO_CONTROLLER)


def flow_state_flows(tunnel_ofports: Iterable[int], sources: Iterable[StateSource],
                     generation: int) -> list[of.Message]:
    """Tunnelled flow-state packets (key 0xFFFFFF) go to the agent from the
    tunnel-zone peers in ``sources`` only; from any other address they are
    dropped in the switch (and counted by its drop flow). Replaces every
    flow-state flow there was, of any agent run."""
    cookie, _ = pl.origin_cookie(pl.Origin.FLOW_STATE, generation)
    out: list[of.Message] = [of.FlowDelete(pl.TABLE_CLASSIFY, cookie, pl.ORIGIN_MASK)]
    for ofport in sorted(tunnel_ofports):
        # agents before trusted sources sent every state packet up, at the
        # trusted priority and without a source: gone on upgrade
        out.append(of.FlowDelete(pl.TABLE_CLASSIFY, match=(
            ("in_port", ofport), ("tunnel_id", pl.FLOW_STATE_TUNNEL_KEY)),
            strict_priority=pl.PRIO_FLOW_STATE))
        out.append(of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_FLOW_STATE_UNTRUSTED, cookie,
                              (("in_port", ofport), ("tunnel_id", pl.FLOW_STATE_TUNNEL_KEY))))
    out.extend(_trusted_source(s, cookie) for s in sorted(sources))
    return out


def flow_state_sources_changed(old: Iterable[StateSource], new: Iterable[StateSource],
                               generation: int) -> list[of.Message]:
    """A tunnel zone's members changed: trust the new peers first, then stop
    trusting the ones that left (so a peer that stays is never dropped)."""
    cookie, _ = pl.origin_cookie(pl.Origin.FLOW_STATE, generation)
    old, new = set(old), set(new)
    out: list[of.Message] = [_trusted_source(s, cookie) for s in sorted(new - old)]
    for source in sorted(old - new):
        flow = _trusted_source(source, cookie)
        out.append(of.FlowDelete(pl.TABLE_CLASSIFY, match=flow.match,
                                 strict_priority=flow.priority))
    return out


def remove_generations(generations: Iterable[int]) -> list[of.Message]:
    """Delete every simulated flow of earlier agent runs, by cookie mask."""
    out: list[of.Message] = []
    for gen in sorted(generations):
        cookie, mask = pl.origin_cookie(pl.Origin.SIMULATION, gen)
        out.append(of.FlowDelete(pl.TABLE_SIMULATED, cookie, mask))
    return out


def delete_flows(cookies: Iterable[int]) -> list[of.Message]:
    """Delete simulated flows by exact cookie."""
    return [of.FlowDelete(pl.TABLE_SIMULATED, cookie, pl.ALL_ONES) for cookie in cookies]
