"""The flow-state cost benchmark runs and reports every figure it documents."""
from benchmarks import flow_state


def test_flow_state_benchmark_reports_its_figures(monkeypatch):
    monkeypatch.setattr(flow_state, "FLOWS", 200)
    got = flow_state.run(quick=True)
    for key in ("outgoing_sending_us", "outgoing_suppressed_us", "incoming_us",
                "withdrawals_us", "withdrawn_us"):
        assert got[key] > 0, key
    assert got["flows"] == 200
