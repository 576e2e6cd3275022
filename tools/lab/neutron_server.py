"""Neutron's server in process: the ML2 plugin with our mechanism driver, our
L3 plugin and port security, on in-memory sqlite, its API served by WebTest,
its journal worker sending to a real cluster. Only Neutron's venv
(tools/neutron-venv) can import this.

Neutron's own unit-test base (``Ml2PluginV2TestCase``) knows how to bring
the plugin up and tear it down cleanly; the end-to-end tests and the
benchmark borrow it instead of copying what it does.
"""
from __future__ import annotations

from typing import Any

from neutron.tests.unit.plugins.ml2 import test_plugin
from oslo_config import cfg

from tools.lab import neutron_journal as journal

MECHANISM_DRIVERS = ["midonet_ryu"]
L3_PLUGIN = "networking_midonet_ryu.l3.plugin.MidonetRyuL3Plugin"


class NeutronError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"Neutron answered {status}: {body[:500]}")
        self.status = status
        self.body = body


def configure(cluster_url: str, username: str, password: str, **extra: Any) -> None:
    """The [midonet_ryu] options Neutron's plugin reads, and what ML2 needs."""
    journal.register_options()
    for name, value in {"cluster_url": cluster_url, "username": username,
                        "password": password, **extra}.items():
        cfg.CONF.set_override(name, value, group="midonet_ryu")
    cfg.CONF.set_override("extension_drivers", ["port_security"], group="ml2")


class _Boot(test_plugin.Ml2PluginV2TestCase):
    _mechanism_drivers = MECHANISM_DRIVERS
    l3_plugin = L3_PLUGIN

    def runTest(self) -> None:  # pragma: no cover - never run, only set up
        pass


class InProcessNeutron:
    """``start()`` brings Neutron up, ``stop()`` down; ``call`` is its REST API
    as an admin (the Neutron server a user would talk to, minus the socket)."""

    def __init__(self, cluster_url: str, username: str, password: str,
                 flat_networks: tuple[str, ...] = ("*",), **options: Any) -> None:
        self.args = (cluster_url, username, password)
        self.options = options
        self.flat_networks = flat_networks
        self.case: _Boot | None = None
        self.worker: Any = None

    def start(self) -> InProcessNeutron:
        from neutron.conf.plugins.ml2.drivers import driver_type

        configure(*self.args, **self.options)
        driver_type.register_ml2_drivers_flat_opts()
        cfg.CONF.set_override("flat_networks", list(self.flat_networks), group="ml2_type_flat")
        cfg.CONF.set_override("quota_port", -1, group="QUOTAS")  # benchmarks make thousands
        self.case = _Boot("runTest")
        self.case.setUp()
        self.worker = journal.start_worker()
        return self

    def stop(self) -> None:
        if self.worker is not None:
            journal.stop_worker(self.worker)
            self.worker = None
        if self.case is not None:
            self.case.doCleanups()
            self.case = None

    @property
    def context(self) -> Any:
        from neutron_lib import context

        return context.get_admin_context()

    def call(self, method: str, resource: str, body: dict[str, Any] | None = None,
             id: str | None = None, action: str | None = None) -> dict[str, Any]:
        case = self.case
        assert case is not None, "Neutron is not started"
        req = case._admin_req(method, resource, body, id=id, action=action)
        res = req.get_response(case.api)
        if res.status_int >= 400:
            raise NeutronError(res.status_int, res.text)
        if not res.body:
            return {}
        out: dict[str, Any] = case.deserialize(case.fmt, res)
        return out

    # conveniences: Neutron's resources as a user creates them
    def create(self, resource: str, **fields: Any) -> dict[str, Any]:
        singular = resource[:-1].replace("-", "_")
        return self.call("POST", resource, {singular: fields})[singular]

    def update(self, resource: str, id: str, **fields: Any) -> dict[str, Any]:
        singular = resource[:-1].replace("-", "_")
        return self.call("PUT", resource, {singular: fields}, id=id)[singular]

    def show(self, resource: str, id: str) -> dict[str, Any]:
        singular = resource[:-1].replace("-", "_")
        return self.call("GET", resource, id=id)[singular]

    def delete(self, resource: str, id: str) -> None:
        self.call("DELETE", resource, id=id)
