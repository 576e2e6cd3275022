"""Rule chains: MidoNet's filter semantics.

Rules run in order. A rule whose condition does not match is skipped. A
matching rule's action decides: ACCEPT, DROP and REJECT end the whole
filter (jumps included); RETURN ends the current chain and resumes the
caller after its JUMP; CONTINUE goes on to the next rule; JUMP runs the
target chain. A chain that runs out of rules behaves as RETURN, so a filter
that runs out of rules accepts. NAT rules translate the packet and then
apply their action (usually ACCEPT or CONTINUE).

A jump loop (a chain reached again while it is still running) is a broken
topology: the simulation ends with ERROR_DROP. So does jumping deeper than
``MAX_JUMP_DEPTH``.
"""
from __future__ import annotations

import uuid
from typing import Any

from midonet_ryu.simulation import nat, tags
from midonet_ryu.simulation.cache import deps_of
from midonet_ryu.simulation.conditions import compile_condition, compile_rules
from midonet_ryu.simulation.context import Context, SimulationError
from midonet_ryu.simulation.packet import ETH_IPV4, FIELD_BIT, PROTO_ICMP
from midonet_ryu.simulation.packet_builders import icmp_unreachable
from midonet_ryu.simulation.result import ICMP_ERROR_DROP_TIMEOUT
from midonet_ryu.simulation.steps import Drop
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.rules import Chain, Rule, RuleAction, RuleType

MAX_JUMP_DEPTH = 32
ACCEPT, CONTINUE, DROP, JUMP, REJECT, RETURN = (
    RuleAction.ACCEPT, RuleAction.CONTINUE, RuleAction.DROP, RuleAction.JUMP,
    RuleAction.REJECT, RuleAction.RETURN,
)
_LITERAL, _JUMP, _NAT = RuleType.LITERAL_RULE, RuleType.JUMP_RULE, RuleType.NAT_RULE
_NAT_NOT_APPLIED, _NAT_TRANSLATED = nat.NOT_APPLIED, nat.TRANSLATED
ICMP_CODE_ADMIN_PROHIBITED = 13
_REJECT_FIELDS = FIELD_BIT["eth_type"] | FIELD_BIT["ip_proto"] | FIELD_BIT["icmp_type"]


class CompiledChain:
    """A chain's rules, the generated function that finds the first matching
    one (see :func:`conditions.compile_rules`), and the tags of what it reads."""

    __slots__ = ("rules", "first_match", "tags")

    def __init__(self, rules: tuple[Rule, ...], first_match: Any, tag_set: frozenset) -> None:
        self.rules = rules
        self.first_match = first_match
        self.tags = tag_set


def compiled_chain(ctx: Context, chain_id: uuid.UUID) -> CompiledChain | None:
    def build() -> tuple[Any, Any]:
        view = ctx.topology
        chain = view.get(Chain, chain_id)
        if chain is None:
            return None, ((Chain, chain_id, None),)
        rules: list[Rule] = []
        parts = []
        deps: list[Any] = list(deps_of([chain]))
        # One tag for the chain, none per rule: the agent treats a rule change
        # as a change of its chain (its parent), and a stateful flow through
        # a large security group would otherwise carry a tag per rule.
        tag_set = {tags.chain(chain_id)}
        misses = getattr(view, "miss_count", None)
        fetched = [(rid, view.get(Rule, rid)) for rid in chain.rule_ids]
        if misses is not None and view.miss_count != misses:  # type: ignore[attr-defined]
            # rules still loading: this simulation waits for them and is not
            # kept, so compiling the rest would be wasted (a large chain's
            # compilation costs milliseconds, each packet meanwhile)
            return CompiledChain((), compile_rules([]), frozenset(tag_set)), tuple(deps)
        for rid, rule in fetched:
            deps.append((Rule, rid, rule))
            if rule is None:
                continue
            cond = compile_condition(rule.condition, view, prefix=f"r{len(rules)}_")
            deps += cond.deps
            tag_set.update(tags.device(g) for g in cond.group_ids)
            rules.append(rule)
            parts.append(cond)
        return (CompiledChain(tuple(rules), compile_rules(parts), frozenset(tag_set)),
                tuple(deps))

    return ctx.cache.get(("chain", chain_id), build)


def run_chain(ctx: Context, chain_id: uuid.UUID, device_id: uuid.UUID,
              stack: list[uuid.UUID]) -> tuple[RuleAction, Rule | None]:
    """Evaluate one chain; returns the deciding action (RETURN when it ran out)."""
    if chain_id in stack:
        raise SimulationError(f"rule chain jump loop through chain {chain_id}")
    if len(stack) >= MAX_JUMP_DEPTH:
        raise SimulationError(f"rule chains nested deeper than {MAX_JUMP_DEPTH}")
    compiled = compiled_chain(ctx, chain_id)
    trace = ctx.trace
    if compiled is None:
        ctx.tags.add(tags.chain(chain_id))
        if trace is not None:
            trace.append(("rule", {"chain": chain_id, "rule": None, "missing": True}))
        return RETURN, None  # a missing chain filters nothing
    ctx.tags |= compiled.tags
    stack.append(chain_id)
    try:
        rules = compiled.rules
        first_match = compiled.first_match
        i = first_match(ctx, 0)
        while i >= 0:
            rule = rules[i]
            rtype = rule.type
            action = rule.action
            if trace is not None:
                trace.append(("rule", {"chain": chain_id, "rule": rule.id, "type": rtype,
                                       "action": action, "depth": len(stack) - 1}))
            if rtype is _JUMP:
                target = rule.jump_chain_id
                if target is not None:
                    sub, by = run_chain(ctx, target, device_id, stack)
                    if sub is ACCEPT or sub is DROP or sub is REJECT:
                        return sub, by
                i = first_match(ctx, i + 1)
                continue
            if rtype is _NAT:
                applied = nat.apply_rule(ctx, rule, device_id)
                if applied is _NAT_NOT_APPLIED:
                    i = first_match(ctx, i + 1)
                    continue
                if applied is not _NAT_TRANSLATED:  # a fragment, or no SNAT port left
                    return DROP, rule
            if action is CONTINUE:
                i = first_match(ctx, i + 1)
                continue
            return action, rule
        if trace is not None:
            trace.append(("rule", {"chain": chain_id, "rule": None, "depth": len(stack) - 1}))
        return RETURN, None
    finally:
        stack.pop()


_SNAT_EXHAUSTED = Drop(0.0, "SNAT ports exhausted; more blocks requested")


def run_filter(ctx: Context, chain_id: uuid.UUID, device_id: uuid.UUID,
               hook: str = "") -> Drop | None:
    """Run a device or port filter; None if the packet goes on, else the drop that
    ends its path.

    ``hook`` says which filter this is ("port-inbound", "device-outbound"...),
    for traces only.
    """
    trace = ctx.trace
    if trace is not None:
        step: dict[str, Any] = {
            "hook": hook, "chain": chain_id,
            "port": ctx.in_port if hook == "port-inbound"
            else ctx.out_port if hook == "port-outbound" else None}
        trace.append(("chain", step))
        action, rule = run_chain(ctx, chain_id, device_id, [])
        step["verdict"] = action  # the chain's outcome, known only now
    else:
        action, rule = run_chain(ctx, chain_id, device_id, [])
    if action is DROP:
        if ctx.snat_requests:
            return _SNAT_EXHAUSTED  # no flow: the next packet retries once leased
        return Drop(None, f"dropped by rule {rule.id if rule else '?'}")
    if action is REJECT:
        _reject(ctx)
        return Drop(ICMP_ERROR_DROP_TIMEOUT, f"rejected by rule {rule.id if rule else '?'}")
    return None


def _reject(ctx: Context) -> None:
    """Answer ICMP administratively prohibited when a router port can speak for us.

    On a bridge (no IP of its own) a REJECT is a plain drop, as in MidoNet.
    """
    m = ctx.match
    ctx.wc |= _REJECT_FIELDS  # whether an ICMP is sent depends on them
    if m.eth_type != ETH_IPV4 or m.ip_src is None:
        return
    if m.ip_proto == PROTO_ICMP and m.icmp_type not in (0, 8):
        return  # never answer an ICMP error with an error
    port = ctx.topology.get(Port, ctx.in_port)
    if port is None or port.router_id is None or not port.port_address or not port.port_mac:
        return
    from midonet_ryu.simulation.addr import ip_to_int, normalize_mac

    frame = icmp_unreachable(ICMP_CODE_ADMIN_PROHIBITED, m, normalize_mac(port.port_mac),
                             ip_to_int(port.port_address))
    ctx.generate(port.id, frame)
