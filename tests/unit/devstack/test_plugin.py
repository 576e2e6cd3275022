"""devstack/settings and devstack/plugin.sh, phase by phase, as devstack runs them.

Each test sources devstack_stubs.sh (stand-ins for devstack's functions),
then settings, then plugin.sh once per phase, in one bash with errexit and
nounset, as stack.sh, unstack.sh and clean.sh do. The commands the plugin
runs (sudo, ovs-vsctl, curl, sleep, neutron-db-manage, midonet-cluster,
midonet-agent, and $PYTHON) are stub executables on PATH that record their
arguments; $PYTHON then runs this interpreter, so the password hash in
[auth] is the real one. Everything lives in the test's temporary directory.
"""
from __future__ import annotations

import configparser
import getpass
import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from oslo_config import cfg

from cluster_proxy.rest_api import auth
from midonet_ryu.conf import opts as conf_opts

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = ROOT / "devstack" / "plugin.sh"
SETTINGS = ROOT / "devstack" / "settings"
STUBS = Path(__file__).with_name("devstack_stubs.sh")

# devstack's default services (OVN included) plus the ML2/OVS agents' names
CONTROLLER = ("key,n-api,n-cpu,n-cond,n-sch,placement-api,g-api,ovn-controller,ovn-northd,"
              "ovs-vswitchd,ovsdb-server,q-svc,q-ovn-agent,q-agt,q-dhcp,q-l3,q-meta,"
              "neutron-metadata-agent,rabbit,mysql")
COMPUTE = "n-cpu,placement-client,q-agt,neutron-agent"
NEUTRON_AGENTS = ("q-agt", "q-l3", "q-dhcp", "q-meta", "neutron-agent", "neutron-l3",
                  "neutron-dhcp", "neutron-metadata-agent")
SERVICE_PASSWORD = "service-secret"

_RECORD = '{ printf "%s" "${0##*/}"; printf "\\t%s" "$@"; printf "\\n"; } >> "$MR_TEST_CALLS"\n'
STUB_EXECUTABLES = {
    "sudo": 'exec "$@"',
    # MR_TEST_OVS_BRIDGES: the bridges that exist; MR_TEST_OVS_MARK: their
    # midonet-generation external_id (the agent's mark)
    "ovs-vsctl": """case "$1" in
    br-exists) [[ " ${MR_TEST_OVS_BRIDGES:-} " == *" $2 "* ]] || exit 2 ;;
    br-get-external-id) echo "${MR_TEST_OVS_MARK:-}" ;;
esac""",
    # a POST to .../login exits MR_TEST_LOGIN_RC; a GET prints the next of
    # MR_TEST_CURL_CODES (the last one repeats), 000 being curl's "no answer"
    "curl": """for a in "$@"; do
    [[ "$a" == */login ]] && exit "${MR_TEST_LOGIN_RC:-0}"
done
n=$(cat "$MR_TEST_CURL_COUNT" 2>/dev/null || echo 0)
echo $((n + 1)) > "$MR_TEST_CURL_COUNT"
read -r -a codes <<< "${MR_TEST_CURL_CODES:-401}"
code=${codes[$(( n < ${#codes[@]} ? n : ${#codes[@]} - 1 ))]}
printf '%s' "$code"
[[ "$code" != 000 ]] || exit 7""",
    "sleep": "",
    "neutron-db-manage": "",
    "midonet-cluster": "",
    "midonet-agent": "",
    "python": f"exec {shlex.quote(sys.executable)} \"$@\"",
}


class Result:
    def __init__(self, proc: subprocess.CompletedProcess, calls_file: Path,
                 variables: dict[str, str]) -> None:
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        text = calls_file.read_text() if calls_file.exists() else ""
        self.calls = [line.split("\t") for line in text.splitlines()]
        self.vars = variables

    def of(self, name: str) -> list[list[str]]:
        """The argument lists of every call to ``name``."""
        return [c[1:] for c in self.calls if c[0] == name]

    def index(self, name: str, *args: str) -> int:
        """Where the first call to ``name`` starting with ``args`` is in the record."""
        for i, c in enumerate(self.calls):
            if c[0] == name and c[1:1 + len(args)] == list(args):
                return i
        raise AssertionError(f"no call {name} {args} in {self.calls}")


class Devstack:
    """A node's devstack environment in a temporary directory."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name, body in STUB_EXECUTABLES.items():
            path = self.bin / name
            path.write_text("#!/usr/bin/env bash\n" + _RECORD + body + "\n")
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        self.calls = tmp / "calls"
        self.conf_dir = tmp / "etc" / "midonet_ryu"
        self.data_dir = tmp / "data" / "midonet-ryu"
        self.conf = self.conf_dir / "midonet_ryu.conf"
        self.neutron_conf = tmp / "etc" / "neutron" / "neutron.conf"
        self.ml2_conf = tmp / "etc" / "neutron" / "plugins" / "ml2" / "ml2_conf.ini"
        self.ml2_conf.parent.mkdir(parents=True)
        # what devstack's configure_neutron left before post-config
        self.neutron_conf.write_text("[DEFAULT]\ncore_plugin = ml2\nservice_plugins = router,qos\n")
        self.ml2_conf.write_text("[ml2]\nmechanism_drivers = midonet_ryu\n"
                                 "extension_drivers = qos\ntenant_network_types = vxlan\n")
        (tmp / "opt" / "stack" / "midonet-ryu" / "networking-midonet-ryu").mkdir(parents=True)
        self.env = {
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(tmp),
            "LC_ALL": "C.UTF-8",
            "MR_TEST_CALLS": str(self.calls),
            "MR_TEST_CURL_COUNT": str(tmp / "curl_count"),
            # devstack's globals
            "DEST": str(tmp / "opt" / "stack"),
            "DATA_DIR": str(tmp / "data"),
            "HOST_IP": "192.0.2.10",
            "SERVICE_HOST": "192.0.2.10",
            "SERVICE_PASSWORD": SERVICE_PASSWORD,
            "STACK_USER": getpass.getuser(),
            "ENABLE_DEBUG_LOG_LEVEL": "True",
            "PYTHON": str(self.bin / "python"),
            "NEUTRON_CONF": str(self.neutron_conf),
            # devstack names the core plugin's file relative to /
            "Q_PLUGIN_CONF_FILE": str(self.ml2_conf).lstrip("/"),
            "NEUTRON_BIN_DIR": str(self.bin),
            "Q_SERVICE_PLUGIN_CLASSES": "router,qos",
            "ENABLED_SERVICES": CONTROLLER,
            # not /etc
            "MIDONET_RYU_CONF_DIR": str(self.conf_dir),
        }

    def run(self, *phases: str, after: str = "", show: tuple[str, ...] = (),
            check: bool = True) -> Result:
        """Source settings, then plugin.sh with each of ``phases`` ("stack
        install", "unstack", ...), then run ``after``; ``show`` names
        variables to read back."""
        dump = self.tmp / "vars"
        lines = ["set -o errexit -o nounset", f"source {shlex.quote(str(STUBS))}",
                 f"source {shlex.quote(str(SETTINGS))}"]
        lines += [f"source {shlex.quote(str(PLUGIN))} {phase}" for phase in phases]
        lines.append(after)
        lines.append(f'for v in {" ".join(show)}; do printf "%s=%s\\0" "$v" "${{!v-}}"; '
                     f'done > {shlex.quote(str(dump))}')
        proc = subprocess.run(["bash", "-c", "\n".join(lines)], env=self.env, cwd=self.tmp,
                              capture_output=True, text=True, timeout=120)
        variables = {}
        if dump.exists():
            for item in dump.read_text().split("\0"):
                if item:
                    name, _, value = item.partition("=")
                    variables[name] = value
        result = Result(proc, self.calls, variables)
        if check:
            assert result.rc == 0, f"{phases} failed ({result.rc}):\n{result.stderr[-3000:]}"
        return result


def ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def load_conf(path: Path) -> cfg.ConfigOpts:
    """midonet_ryu.conf read as the daemons read it (oslo.config, every group)."""
    conf = cfg.ConfigOpts()
    for group, options in conf_opts.list_opts():
        conf.register_opts(options, group=group)
    conf(["--config-file", str(path)], project="midonet-ryu-test",
         default_config_files=[], default_config_dirs=[])
    return conf


def services(result: Result) -> set[str]:
    return set(result.vars["ENABLED_SERVICES"].split(","))


@pytest.fixture
def devstack(tmp_path: Path) -> Devstack:
    return Devstack(tmp_path)


# --- settings ---------------------------------------------------------------------


def test_settings_give_neutron_to_midonet_ryu_on_the_controller(devstack):
    result = devstack.run(show=(
        "ENABLED_SERVICES", "Q_PLUGIN", "Q_AGENT", "Q_ML2_PLUGIN_MECHANISM_DRIVERS",
        "Q_ML2_TENANT_NETWORK_TYPE", "ML2_L3_PLUGIN", "OS_VIF_OVS_ISOLATE_VIF",
        "MIDONET_RYU_API_USER", "MIDONET_RYU_API_URL", "MIDONET_RYU_PROVIDER_UPLINKS",
        "MIDONET_RYU_ZOOKEEPER_HOSTS", "MIDONET_RYU_INTEGRATION_BRIDGE"))
    enabled = services(result)
    assert not enabled & set(NEUTRON_AGENTS)
    assert not enabled & {"ovn-northd", "ovn-controller", "q-ovn-agent"}
    assert {"mr-zookeeper", "mr-cluster", "mr-agent", "q-svc", "n-cpu"} <= enabled
    v = result.vars
    assert v["Q_PLUGIN"] == "ml2"
    assert v["Q_AGENT"] not in ("ovn", "openvswitch")  # neither sets up a switch of its own
    assert v["Q_ML2_PLUGIN_MECHANISM_DRIVERS"] == "midonet_ryu"
    assert v["Q_ML2_TENANT_NETWORK_TYPE"] == "vxlan"
    assert v["ML2_L3_PLUGIN"] == "midonet_ryu_l3"
    assert v["OS_VIF_OVS_ISOLATE_VIF"] == "False"
    assert v["MIDONET_RYU_API_USER"] == "neutron"
    assert v["MIDONET_RYU_API_URL"] == "http://192.0.2.10:8181/midonet-api"
    assert v["MIDONET_RYU_PROVIDER_UPLINKS"] == ""
    assert v["MIDONET_RYU_ZOOKEEPER_HOSTS"] == "127.0.0.1:2181"
    assert v["MIDONET_RYU_INTEGRATION_BRIDGE"] == "br-int"
    assert ["q-agt", "q-l3", "q-dhcp", "q-meta"] in result.of("disable_service")


def test_settings_give_a_compute_node_an_agent_that_uses_the_controllers_zookeeper(devstack):
    devstack.env["ENABLED_SERVICES"] = COMPUTE
    devstack.env["SERVICE_HOST"] = "192.0.2.1"
    result = devstack.run(show=("ENABLED_SERVICES", "MIDONET_RYU_ZOOKEEPER_HOSTS",
                                "MIDONET_RYU_UNDERLAY_IP"))
    assert services(result) == {"n-cpu", "placement-client", "mr-agent"}
    assert result.vars["MIDONET_RYU_ZOOKEEPER_HOSTS"] == "192.0.2.1:2181"
    assert result.vars["MIDONET_RYU_UNDERLAY_IP"] == "192.0.2.10"


def test_settings_run_no_zookeeper_when_an_ensemble_is_named(devstack):
    devstack.env["MIDONET_RYU_ZOOKEEPER_HOSTS"] = "198.51.100.1:2181,198.51.100.2:2181"
    result = devstack.run(show=("ENABLED_SERVICES", "MIDONET_RYU_ZOOKEEPER_HOSTS"))
    assert "mr-zookeeper" not in services(result)
    assert {"mr-cluster", "mr-agent"} <= services(result)
    assert result.vars["MIDONET_RYU_ZOOKEEPER_HOSTS"] == "198.51.100.1:2181,198.51.100.2:2181"


def test_settings_leave_a_service_disabled_in_local_conf_disabled(devstack):
    devstack.env["DISABLED_SERVICES"] = "mr-agent"
    result = devstack.run(show=("ENABLED_SERVICES",))
    assert "mr-agent" not in services(result)
    assert "mr-cluster" in services(result)


# --- stack install ----------------------------------------------------------------


def test_install_sets_up_both_projects_on_the_controller(devstack):
    result = devstack.run("stack install")
    packages = result.of("install_package")[0]
    assert {"openvswitch-switch", "zookeeper", "default-jre-headless"} <= set(packages)
    dest = devstack.env["DEST"]
    assert result.of("setup_develop") == [[f"{dest}/midonet-ryu"],
                                          [f"{dest}/midonet-ryu/networking-midonet-ryu"]]


def test_install_on_a_compute_node_skips_the_neutron_package(devstack):
    devstack.env["ENABLED_SERVICES"] = COMPUTE
    result = devstack.run("stack install")
    assert result.of("setup_develop") == [[f"{devstack.env['DEST']}/midonet-ryu"]]


def test_install_without_the_neutron_package_fails_clearly(devstack):
    shutil.rmtree(Path(devstack.env["DEST"]) / "midonet-ryu" / "networking-midonet-ryu")
    result = devstack.run("stack install", check=False)
    assert result.rc != 0
    assert "networking-midonet-ryu" in result.stderr and "MIDONET_RYU_NEUTRON_DIR" in result.stderr


# --- stack post-config ------------------------------------------------------------


def test_post_config_writes_a_configuration_the_daemons_accept(devstack):
    devstack.env["MIDONET_RYU_PROVIDER_UPLINKS"] = "public:controller:eth1, physnet2:compute1:eth2"
    devstack.run("stack post-config")
    conf = load_conf(devstack.conf)
    assert conf.zookeeper.zookeeper_hosts == "127.0.0.1:2181"
    assert conf.agent.integration_bridge == "br-int"
    assert conf.agent.underlay_ip == "192.0.2.10"
    assert conf.cluster.rest_api_port == 8181
    assert conf.cluster.state_proxy_advertise_address == "192.0.2.10"  # for other hosts' agents
    assert conf.auth.strategy == "local"
    users = auth.parse_users(conf.auth.users)
    assert list(users) == ["neutron"]
    assert users["neutron"].is_admin and users["neutron"].tenant_id is None
    assert users["neutron"].password.verify(SERVICE_PASSWORD)
    assert not users["neutron"].password.verify(SERVICE_PASSWORD + "x")
    auth.wrap(lambda environ, start_response: [], conf)  # the cluster's start-up check
    parsed = ini(devstack.conf)
    assert parsed["neutron"]["provider_uplinks"] == (
        "public:controller:eth1,physnet2:compute1:eth2")
    # it holds the password hash and the token secret
    assert stat.S_IMODE(devstack.conf.stat().st_mode) == 0o600


def test_post_config_points_neutron_at_the_cluster(devstack):
    devstack.env["MIDONET_RYU_API_PASSWORD"] = "api-secret"
    devstack.env["MIDONET_RYU_API_PORT"] = "9191"
    devstack.run("stack post-config")
    assert load_conf(devstack.conf).cluster.rest_api_port == 9191
    ml2 = ini(devstack.ml2_conf)
    assert dict(ml2["midonet_ryu"]) == {
        "cluster_url": "http://192.0.2.10:9191/midonet-api",
        "username": "neutron",
        "password": "api-secret",
        "project_id": "",
        "sync_interval": "600",
    }
    assert ml2["ml2"]["mechanism_drivers"] == "midonet_ryu"
    assert set(ml2["ml2"]["extension_drivers"].split(",")) == {"qos", "port_security"}
    assert ml2["ml2"]["tenant_network_types"] == "vxlan"  # devstack's, kept
    users = auth.parse_users(load_conf(devstack.conf).auth.users)
    assert users["neutron"].password.verify("api-secret")


def test_service_plugins_hold_our_router_even_after_devstack_rewrites_them(devstack):
    # devstack's configure_neutron_after_post_config, which runs after the phase
    devstack_rewrite = ('iniset "$NEUTRON_CONF" DEFAULT service_plugins '
                        '"$Q_SERVICE_PLUGIN_CLASSES"')
    for after in ("", devstack_rewrite):
        devstack.run("stack post-config", after=after)
        plugins = ini(devstack.neutron_conf)["DEFAULT"]["service_plugins"].split(",")
        assert sorted(plugins) == ["midonet_ryu_l3", "qos"], after


def test_post_config_migrates_neutrons_database_with_our_subproject(devstack):
    result = devstack.run("stack post-config")
    assert result.of("neutron-db-manage") == [[
        "--config-file", str(devstack.neutron_conf), "--config-file", str(devstack.ml2_conf),
        "--subproject", "networking-midonet-ryu", "upgrade", "head"]]
    # Neutron is configured before the migration reads its files
    assert result.index("iniset", str(devstack.neutron_conf)) < result.index("neutron-db-manage")


def test_post_config_starts_the_daemons_and_waits_for_the_api(devstack):
    result = devstack.run("stack post-config")
    started = {args[0]: args[1:] for args in result.of("run_process")}
    assert list(started) == ["mr-zookeeper", "mr-cluster", "mr-agent"]
    conf = str(devstack.conf)
    assert started["mr-cluster"] == [f"{devstack.bin}/midonet-cluster --config-file {conf}"]
    assert started["mr-agent"] == [f"{devstack.bin}/midonet-agent --config-file {conf}",
                                   "root", "root"]
    zoo_cfg = devstack.conf_dir / "zoo.cfg"
    assert started["mr-zookeeper"][0].endswith(f"QuorumPeerMain {zoo_cfg}")
    zoo = dict(line.split("=", 1) for line in zoo_cfg.read_text().split())
    assert zoo["dataDir"] == str(devstack.data_dir / "zookeeper")
    assert zoo["clientPort"] == "2181"
    assert zoo["admin.enableServer"] == "false"  # port 8080 is Swift's
    # the API answered (401: GET / needs a token), then Neutron's user logged in
    curls = result.of("curl")
    assert curls[0][-1] == "http://192.0.2.10:8181/midonet-api/"
    assert curls[1][-1] == "http://192.0.2.10:8181/midonet-api/login"
    assert f"neutron:{SERVICE_PASSWORD}" in curls[1]
    assert result.index("run_process", "mr-cluster") < result.index("curl")
    assert result.of("neutron-db-manage")
    assert result.index("neutron-db-manage") < result.index("run_process")


def test_waiting_for_the_api_retries_until_it_answers(devstack):
    devstack.env["MR_TEST_CURL_CODES"] = "000 000 000 401"
    result = devstack.run("stack post-config")
    gets = [c for c in result.of("curl") if not c[-1].endswith("/login")]
    assert len(gets) == 4
    assert len(result.of("sleep")) == 3


def test_waiting_for_the_api_is_bounded(devstack):
    devstack.env["MR_TEST_CURL_CODES"] = "000"
    result = devstack.run("stack post-config", check=False)
    assert result.rc != 0
    assert "did not answer within 60s" in result.stderr
    assert len(result.of("curl")) == 60
    assert len(result.of("sleep")) == 60


def test_a_refused_login_fails_clearly(devstack):
    devstack.env["MR_TEST_LOGIN_RC"] = "22"  # curl -f on a 401
    result = devstack.run("stack post-config", check=False)
    assert result.rc != 0
    assert "refuses MIDONET_RYU_API_USER's login" in result.stderr


def test_a_missing_password_fails_clearly_before_anything_is_written(devstack):
    del devstack.env["SERVICE_PASSWORD"]
    result = devstack.run("stack post-config", check=False)
    assert result.rc != 0
    assert "MIDONET_RYU_API_PASSWORD is not set and there is no SERVICE_PASSWORD" in result.stderr
    assert not devstack.conf.exists()
    assert not result.of("run_process") and not result.of("neutron-db-manage")


def test_a_missing_underlay_address_fails_clearly(devstack):
    devstack.env["HOST_IP"] = ""
    result = devstack.run("stack post-config", check=False)
    assert result.rc != 0
    assert "MIDONET_RYU_UNDERLAY_IP is empty" in result.stderr


def test_a_malformed_provider_uplink_fails_clearly(devstack):
    devstack.env["MIDONET_RYU_PROVIDER_UPLINKS"] = "public:controller:eth1,public-eth1"
    result = devstack.run("stack post-config", check=False)
    assert result.rc != 0
    assert "'public-eth1' is not physnet:hostname:interface" in result.stderr


def test_the_token_secret_is_derived_from_the_service_password(devstack):
    devstack.run("stack post-config")
    secret = load_conf(devstack.conf).auth.token_secret
    expected = hashlib.sha256(f"midonet-ryu token_secret {SERVICE_PASSWORD}".encode())
    assert secret == expected.hexdigest()
    assert SERVICE_PASSWORD not in devstack.conf.read_text()


def test_a_given_token_secret_is_read_back_as_given(devstack):
    devstack.env["MIDONET_RYU_TOKEN_SECRET"] = "a$secret-of-more-than-16"
    devstack.run("stack post-config")
    assert load_conf(devstack.conf).auth.token_secret == "a$secret-of-more-than-16"


def test_without_a_service_password_the_token_secret_is_generated_once(devstack):
    del devstack.env["SERVICE_PASSWORD"]
    devstack.env["MIDONET_RYU_API_PASSWORD"] = "api-secret"
    devstack.run("stack post-config")
    first = load_conf(devstack.conf).auth.token_secret
    assert len(first) >= 16
    assert (devstack.data_dir / "token_secret").read_text().strip() == first
    devstack.run("stack post-config")
    assert load_conf(devstack.conf).auth.token_secret == first


def test_post_config_on_a_compute_node_runs_the_agent_only(devstack):
    devstack.env["ENABLED_SERVICES"] = COMPUTE
    before = (devstack.neutron_conf.read_text(), devstack.ml2_conf.read_text())
    result = devstack.run("stack post-config")
    assert [args[0] for args in result.of("run_process")] == ["mr-agent"]
    assert not result.of("neutron-db-manage") and not result.of("iniset")
    assert not result.of("curl")  # no API here to wait for
    assert (devstack.neutron_conf.read_text(), devstack.ml2_conf.read_text()) == before
    assert load_conf(devstack.conf).zookeeper.zookeeper_hosts == "192.0.2.10:2181"
    assert not (devstack.conf_dir / "zoo.cfg").exists()


def test_extra_has_nothing_left_to_do(devstack):
    settings_only = devstack.run().calls
    result = devstack.run("stack extra")
    # the record holds both runs: the second did what settings does, and no more
    assert result.calls == settings_only * 2


# --- unstack and clean --------------------------------------------------------------


def test_unstack_stops_the_agent_then_the_cluster_then_zookeeper(devstack):
    result = devstack.run("unstack")
    assert result.of("stop_process") == [["mr-agent"], ["mr-cluster"], ["mr-zookeeper"]]


def test_clean_removes_our_files_and_our_bridge(devstack):
    devstack.run("stack post-config")
    assert devstack.conf.exists() and devstack.data_dir.is_dir()
    devstack.env.update(MR_TEST_OVS_BRIDGES="br-int br-ex", MR_TEST_OVS_MARK="7")
    result = devstack.run("clean")
    assert not devstack.conf_dir.exists() and not devstack.data_dir.exists()
    assert ["--if-exists", "del-br", "br-int"] in result.of("ovs-vsctl")


@pytest.mark.parametrize("bridges, mark", [("br-int", ""), ("br-ex", "7")],
                         ids=["not-ours", "absent"])
def test_clean_leaves_a_bridge_that_is_not_ours(devstack, bridges, mark):
    devstack.env.update(MR_TEST_OVS_BRIDGES=bridges, MR_TEST_OVS_MARK=mark)
    result = devstack.run("clean")
    assert not [c for c in result.of("ovs-vsctl") if "del-br" in c]


# --- the shell itself -----------------------------------------------------------------


def test_shellcheck_is_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (tools/install.sh installs it)")
    proc = subprocess.run(
        ["shellcheck", "-s", "bash", str(PLUGIN), str(SETTINGS), str(STUBS)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
