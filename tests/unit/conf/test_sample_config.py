"""etc/midonet_ryu.conf.sample is generated from the registered options."""
import os
import subprocess
import sys

from midonet_ryu.conf import opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_sample_config_is_current(tmp_path):
    out = tmp_path / "sample.conf"
    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator", "--namespace", "midonet_ryu",
         "--wrap-width", "79", "--output-file", str(out)],
        check=True, cwd=ROOT, capture_output=True)
    with open(os.path.join(ROOT, "etc", "midonet_ryu.conf.sample")) as f:
        current = f.read()
    assert out.read_text() == current, (
        "etc/midonet_ryu.conf.sample is stale: run `tox -e genconfig` (or "
        "oslo-config-generator --config-file etc/oslo-config-generator/midonet_ryu.conf)")


def test_midonet_defaults_carried_over():
    groups = {g: {o.name: o.default for o in options} for g, options in opts.list_opts()}
    zk = groups["zookeeper"]
    assert zk["session_timeout"] == 30000
    assert zk["session_gracetime"] == 30000
    assert zk["root_key"] == "/midonet"
    assert "zookeeper_hosts" in zk
    assert groups["agent"]["integration_bridge"] == "br-int"
