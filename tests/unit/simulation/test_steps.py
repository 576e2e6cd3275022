"""Engine steps: every typed step and outcome is handled, anything else raises.

A device step or walk outcome nobody taught the walker must not turn into a
drop flow that hides the bug: it raises TypeError out of ``simulate``.
"""
from __future__ import annotations

import uuid

import pytest

from midonet_ryu.simulation import bridge, chains, engine, nat, steps
from midonet_ryu.simulation.result import DROP_HARD_TIMEOUT, ResultKind, ToPort
from midonet_ryu.simulation.steps import (
    Consumed,
    Drop,
    Flood,
    Forward,
    NatResult,
    ToDevicePort,
)
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.rules import NatRuleData, NatTarget, RuleAction, RuleType
from tools.scenario import Scenario, rule


class TwoVMs:
    """One bridge, two learned VMs: a's packets to b go to b's port."""

    def __init__(self) -> None:
        self.s = Scenario()
        self.net = self.s.network()
        self.a = self.s.vm_port(self.net, "10.0.0.1")
        self.b = self.s.vm_port(self.net, "10.0.0.2")
        self.s.learn(self.net, self.a)
        self.s.learn(self.net, self.b)

    def send(self):
        return self.s.simulate(self.s.tcp(self.a, self.b.mac, self.b.ip, sport=5000, dport=80))


def _step_classes() -> set[type]:
    return {v for v in vars(steps).values()
            if isinstance(v, type) and issubclass(v, steps._Step) and v is not steps._Step}


def test_every_step_class_is_declared_a_device_step_or_an_outcome():
    # A new step type must be added to DEVICE_STEPS or OUTCOMES, which the
    # tests below then run through the walker.
    assert _step_classes() == set(steps.DEVICE_STEPS) | set(steps.OUTCOMES)


def _sample_step(cls: type, vm: TwoVMs):
    b_port = vm.s.get(Port, vm.b.port_id)
    return {
        ToDevicePort: lambda: ToDevicePort(b_port),
        Flood: lambda: Flood((b_port,)),
        Forward: lambda: Forward((b_port,)),
        Drop: lambda: Drop(None, "test drop"),
        Consumed: lambda: Consumed("test consumed"),
    }[cls]()


_EXPECTED_KIND = {
    ToDevicePort: ResultKind.FORWARD,
    Flood: ResultKind.FORWARD,
    Forward: ResultKind.FORWARD,
    Drop: ResultKind.DROP,
    Consumed: ResultKind.CONSUMED,
}


@pytest.mark.parametrize("cls", steps.DEVICE_STEPS, ids=lambda c: c.__name__)
def test_walker_handles_every_device_step(monkeypatch, cls):
    vm = TwoVMs()
    step = _sample_step(cls, vm)
    monkeypatch.setattr(bridge, "process", lambda ctx, network, port: step)
    res = vm.send()
    assert res.kind is _EXPECTED_KIND[cls]
    if res.kind is ResultKind.FORWARD:
        assert res.actions == (ToPort(vm.b.port_id),)
    else:
        assert res.reason == step.reason


@pytest.mark.parametrize("cls", steps.OUTCOMES, ids=lambda c: c.__name__)
def test_simulate_handles_every_walk_outcome(monkeypatch, cls):
    vm = TwoVMs()
    outcome = _sample_step(cls, vm)
    monkeypatch.setattr(engine, "_walk", lambda ctx: outcome)
    res = vm.send()
    assert res.kind is _EXPECTED_KIND[cls]


_SOME_PORT = Port(id=uuid.UUID(int=7))


@pytest.mark.parametrize("bogus", [("port", _SOME_PORT.id), ("drop", None, "old shape"), None,
                                   Forward(())], ids=["old-port", "old-drop", "None", "Forward"])
def test_unknown_device_step_raises(monkeypatch, bogus):
    # Forward ends a walk; a device returning it is a bug like any other.
    vm = TwoVMs()
    monkeypatch.setattr(bridge, "process", lambda ctx, network, port: bogus)
    with pytest.raises(TypeError, match="unknown device step"):
        vm.send()


@pytest.mark.parametrize("bogus", [("forward", ()), ToDevicePort(_SOME_PORT), None],
                         ids=["old-forward", "ToDevicePort", "None"])
def test_unknown_walk_outcome_raises(monkeypatch, bogus):
    vm = TwoVMs()
    monkeypatch.setattr(engine, "_walk", lambda ctx: bogus)
    with pytest.raises(TypeError, match="unknown walk outcome"):
        vm.send()


def test_drop_timeout_none_means_the_default():
    assert Drop(None, "x").timeout is None
    vm = TwoVMs()
    vm.s.update(vm.s.get(Port, vm.b.port_id), admin_state_up=False)
    res = vm.send()
    assert res.kind is ResultKind.DROP and res.drop_timeout == DROP_HARD_TIMEOUT


def test_steps_compare_by_type_and_value():
    assert ToDevicePort(_SOME_PORT) == ToDevicePort(Port(id=uuid.UUID(int=7)))
    assert hash(ToDevicePort(_SOME_PORT)) == hash(ToDevicePort(Port(id=uuid.UUID(int=7))))
    assert ToDevicePort(_SOME_PORT) != ToDevicePort(Port(id=uuid.UUID(int=8)))
    assert Drop(0.0, "x") != Drop(None, "x")
    assert Flood(()) != Forward(())
    assert Consumed("x") != ("x",)  # never equal to the old tuple shapes
    assert repr(Drop(0.0, "x")) == "Drop(timeout=0.0, reason='x')"


# --- NAT results as seen by a chain ----------------------------------------------

# Which rule of [NAT rule with ACCEPT, DROP] decides, for each NAT result.
_CHAIN_ON_NAT = {
    NatResult.NOT_APPLIED: "drop_rule",  # skipped: the next rule decides
    NatResult.TRANSLATED: "accept",  # the NAT rule's own action decides
    NatResult.FRAGMENT: "nat_rule_drops",
    NatResult.PORTS_EXHAUSTED: "nat_rule_drops",
}


def test_every_nat_result_has_an_expected_chain_behaviour():
    assert set(_CHAIN_ON_NAT) == set(NatResult)


@pytest.mark.parametrize("applied", list(NatResult), ids=lambda r: r.name)
def test_chain_acts_on_every_nat_result(monkeypatch, applied):
    vm = TwoVMs()
    nat_rule = rule(RuleAction.ACCEPT).replace(
        type=RuleType.NAT_RULE,
        nat_rule_data=NatRuleData(nat_targets=(NatTarget("10.9.9.9", "10.9.9.9", 0, 0),)))
    drop_rule = rule(RuleAction.DROP)
    chain = vm.s.chain(nat_rule, drop_rule)
    vm.s.update(vm.s.get(Port, vm.a.port_id), inbound_filter_id=chain.id)
    monkeypatch.setattr(nat, "apply_rule", lambda ctx, r, device_id: applied)
    res = vm.send()
    expected = _CHAIN_ON_NAT[applied]
    if expected == "accept":
        assert res.kind is ResultKind.FORWARD
    else:
        decider = nat_rule if expected == "nat_rule_drops" else drop_rule
        assert res.kind is ResultKind.DROP
        assert res.reason == f"dropped by rule {decider.id}"


def test_chains_uses_the_nat_result_members():
    # chains compares by identity with these; they must be NatResult's own.
    assert chains._NAT_NOT_APPLIED is NatResult.NOT_APPLIED
    assert chains._NAT_TRANSLATED is NatResult.TRANSLATED
