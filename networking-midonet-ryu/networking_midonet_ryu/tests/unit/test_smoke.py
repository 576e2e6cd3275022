"""The driver and the L3 plugin inside Neutron's own ML2 test case.

A handful of Neutron's inherited network tests run with ``midonet_ryu`` as
the only mechanism driver and the journal worker started in this process,
against a local HTTP server standing in for the cluster; after each test
every journal row must have reached that server, in id order, with its
data. A few tests of our own prove each hook's wiring.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from neutron.db import provisioning_blocks
from neutron.plugins.ml2 import models as ml2_models
from neutron.tests.unit.plugins.ml2 import test_plugin
from neutron_lib import constants as n_const
from neutron_lib import context as n_context
from neutron_lib import exceptions as n_exc
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import resources
from neutron_lib.db import api as db_api
from neutron_lib.plugins import constants as plugin_constants
from neutron_lib.plugins import directory
from oslo_config import cfg

from networking_midonet_ryu import conf
from networking_midonet_ryu.db import models
from networking_midonet_ryu.tests.unit.fake_cluster import FakeCluster

# Of Neutron's own tests, a handful, each with the least it must have
# journaled, as (collection, operation): count.
INHERITED: dict[str, dict[tuple[str, str], int]] = {
    'test_create_network': {('networks', models.UPSERT): 1},
    'test_update_network': {('networks', models.UPSERT): 2},
    'test_show_network_with_subnet': {('networks', models.UPSERT): 1,
                                      ('subnets', models.UPSERT): 1},
    'test_create_networks_bulk_native': {('networks', models.UPSERT): 2},
    'test_network_after_delete_callback': {('networks', models.UPSERT): 1,
                                           ('networks', models.DELETE): 1},
}


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('condition not reached in time')
        time.sleep(0.02)


class TestMidonetRyuSmoke(test_plugin.TestMl2NetworksV2):
    _mechanism_drivers = ['midonet_ryu']
    l3_plugin = 'networking_midonet_ryu.l3.plugin.MidonetRyuL3Plugin'

    def setUp(self) -> None:
        self.cluster = FakeCluster()
        self.cluster.start()
        self.addCleanup(self.cluster.stop)
        conf.register_opts()
        cfg.CONF.set_override('cluster_url', self.cluster.url, group=conf.GROUP)
        cfg.CONF.set_override('retry_interval', 0.05, group=conf.GROUP)
        cfg.CONF.set_override('extension_drivers', ['port_security'], group='ml2')
        super().setUp()
        driver = self.plugin.mechanism_manager.mech_drivers['midonet_ryu'].obj
        self.worker = driver.journal_worker
        self.worker.status_idle_pause = 0.05
        self.worker.start_in_process()
        self.addCleanup(self.worker.stop)
        # Cleanups run last-in first-out: this check runs while the worker
        # and the database are still there.
        self.addCleanup(self._check_journal_reached_cluster)

    def _journal_rows(self) -> list[models.MidonetRyuJournal]:
        ctx = n_context.get_admin_context()
        with db_api.CONTEXT_READER.using(ctx):
            rows = ctx.session.query(models.MidonetRyuJournal).order_by(
                models.MidonetRyuJournal.id).all()
            ctx.session.expunge_all()
            return rows

    def _check_journal_reached_cluster(self) -> None:
        self.worker.drain(10)
        rows = self._journal_rows()
        self.assertEqual([], [(row.id, row.state) for row in rows if row.state != models.DONE])
        expected = [('PUT' if row.operation == models.UPSERT else 'DELETE',
                     f'/neutron/{row.resource}/{row.resource_id}',
                     None if row.data is None else json.loads(row.data))
                    for row in rows]
        sent = [(r.method, r.path, r.body) for r in self.cluster.journal_requests()]
        self.assertEqual(expected, sent)
        journaled = collections.Counter((row.resource, row.operation) for row in rows)
        for kind, count in INHERITED.get(self._testMethodName, {}).items():
            self.assertGreaterEqual(journaled[kind], count, kind)

    # -- our own hooks -------------------------------------------------------------

    def test_port_carries_port_security_and_address_pairs(self) -> None:
        with self.network() as net, self.subnet(network=net, cidr='10.0.0.0/24'):
            pairs = [{'ip_address': '10.0.0.50'}]
            port = self._make_port(self.fmt, net['network']['id'],
                                   arg_list=('allowed_address_pairs',),
                                   allowed_address_pairs=pairs)['port']
            self.worker.drain(10)
            body = self.cluster.bodies('ports', port['id'])[-1]
            self.assertIs(True, body['port_security_enabled'])
            self.assertEqual('10.0.0.50', body['allowed_address_pairs'][0]['ip_address'])
            self.assertEqual(net['network']['id'], body['network_id'])

    def test_rolled_back_change_never_reaches_the_cluster(self) -> None:
        driver = self.plugin.mechanism_manager.mech_drivers['midonet_ryu'].obj
        journaled = driver.create_network_precommit

        def journal_then_fail(context: Any) -> None:
            journaled(context)
            raise n_exc.InvalidInput(error_message='a later driver refuses')

        with mock.patch.object(driver, 'create_network_precommit', journal_then_fail):
            res = self._create_network(self.fmt, 'doomed', True)
        self.assertEqual(400, res.status_int)
        with self.network('kept') as net:
            self.worker.drain(10)
            self.assertEqual([('PUT', f'/neutron/networks/{net["network"]["id"]}')],
                             [(r.method, r.path) for r in self.cluster.journal_requests()
                              if '/networks/' in r.path])

    def test_ipv6_subnet_refused(self) -> None:
        with self.network() as net:
            res = self._create_subnet(self.fmt, net['network']['id'], '2001:db8::/64',
                                      ip_version=6)
            self.assertEqual(400, res.status_int)
            self.assertIn('midonet-ryu supports IPv4 subnets only',
                          self.deserialize(self.fmt, res)['NeutronError']['message'])

    def test_security_group_rule_change_resends_group(self) -> None:
        plugin = directory.get_plugin()
        ctx = self.context
        sg = plugin.create_security_group(ctx, {'security_group': {
            'name': 'web', 'description': '', 'project_id': 'p1'}})
        rule = plugin.create_security_group_rule(ctx, {'security_group_rule': {
            'security_group_id': sg['id'], 'direction': 'ingress', 'ethertype': 'IPv4',
            'protocol': 'tcp', 'port_range_min': 8080, 'port_range_max': 8080,
            'remote_ip_prefix': None, 'remote_group_id': None,
            'remote_address_group_id': None, 'description': '', 'project_id': 'p1'}})
        self.worker.drain(10)
        sent = self.cluster.bodies('security_groups', sg['id'])[-1]
        self.assertIn(rule['id'], [r['id'] for r in sent['security_group_rules']])
        plugin.delete_security_group_rule(ctx, rule['id'])
        self.worker.drain(10)
        sent = self.cluster.bodies('security_groups', sg['id'])[-1]
        self.assertNotIn(rule['id'], [r['id'] for r in sent['security_group_rules']])
        plugin.delete_security_group(ctx, sg['id'])
        self.worker.drain(10)
        last = self.cluster.journal_requests()[-1]
        self.assertEqual(('DELETE', f'/neutron/security_groups/{sg["id"]}'),
                         (last.method, last.path))

    def test_address_group_journaled_after_commit(self) -> None:
        plugin = directory.get_plugin()
        ag = plugin.create_address_group(self.context, {'address_group': {
            'project_id': 'p1', 'name': 'ag', 'description': '',
            'addresses': ['192.0.2.1/32']}})
        self.worker.drain(10)
        self.assertEqual(['192.0.2.1/32'],
                         self.cluster.bodies('address_groups', ag['id'])[-1]['addresses'])

    def test_bound_port_becomes_active_when_cluster_says(self) -> None:
        with self.network() as net, self.subnet(network=net, cidr='10.0.1.0/24'):
            port = self._make_port(
                self.fmt, net['network']['id'], as_admin=True,
                arg_list=(portbindings.HOST_ID,),
                **{portbindings.HOST_ID: 'host-a'})['port']
            self.assertEqual(portbindings.VIF_TYPE_OVS, port[portbindings.VIF_TYPE])
            self.assertEqual('br-int', port[portbindings.VIF_DETAILS]['bridge_name'])
            self.assertEqual(n_const.PORT_STATUS_DOWN, port['status'])
            self.assertTrue(provisioning_blocks.is_object_blocked(
                n_context.get_admin_context(), port['id'], resources.PORT))
            plugin = directory.get_plugin()

            def port_status() -> str:
                return plugin.get_port(n_context.get_admin_context(), port['id'])['status']

            self.cluster.status_answers.put({'cursor': 'a1', 'reset': False,
                                             'active': [port['id']], 'inactive': []})
            _wait_for(lambda: port_status() == n_const.PORT_STATUS_ACTIVE)
            self.cluster.status_answers.put({'cursor': 'a2', 'reset': False,
                                             'active': [], 'inactive': [port['id']]})
            _wait_for(lambda: port_status() == n_const.PORT_STATUS_DOWN)

    def test_port_on_host_without_agent_not_bound(self) -> None:
        with self.network() as net:
            port = self._make_port(
                self.fmt, net['network']['id'], as_admin=True,
                arg_list=(portbindings.HOST_ID,),
                **{portbindings.HOST_ID: 'host-without-agent'})['port']
            self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED,
                             port[portbindings.VIF_TYPE])
            ctx = n_context.get_admin_context()
            with db_api.CONTEXT_READER.using(ctx):
                self.assertFalse(ctx.session.query(ml2_models.PortBindingLevel).filter_by(
                    port_id=port['id']).all())

    def test_router_gateway_interface_and_floating_ip(self) -> None:
        l3 = directory.get_plugin(plugin_constants.L3)
        ctx = self.context
        ext = self._make_network(self.fmt, 'public', True, as_admin=True,
                                 arg_list=('router:external',),
                                 **{'router:external': True})['network']
        self._make_subnet(self.fmt, {'network': ext}, '203.0.113.1', '203.0.113.0/24',
                          as_admin=True)
        with self.network() as net, self.subnet(network=net, cidr='10.0.2.0/24') as sub:
            router = l3.create_router(ctx, {'router': {
                'name': 'edge', 'admin_state_up': True, 'project_id': 'p1',
                'external_gateway_info': {'network_id': ext['id'], 'enable_snat': False}}})
            # The gateway is attached after the router's precommit: the router
            # is sent again once it has it.
            self.worker.drain(10)
            self.assertEqual(router['gw_port_id'],
                             self.cluster.bodies('routers', router['id'])[-1]['gw_port_id'])
            l3.add_router_interface(ctx, router['id'], {'subnet_id': sub['subnet']['id']})
            vm = self._make_port(self.fmt, net['network']['id'])['port']
            fip = l3.create_floatingip(ctx, {'floatingip': {
                'floating_network_id': ext['id'], 'port_id': vm['id'], 'project_id': 'p1',
                'subnet_id': None, 'floating_ip_address': None}})
            self.worker.drain(10)
            sent_router = self.cluster.bodies('routers', router['id'])[-1]
            self.assertTrue(sent_router['gw_port_id'])
            gateway = sent_router['external_gateway_info']
            self.assertIs(False, gateway['enable_snat'])
            self.assertEqual(ext['id'], gateway['network_id'])
            self.assertTrue(gateway['external_fixed_ips'])
            self.assertEqual(vm['id'], self.cluster.bodies('floatingips', fip['id'])[-1]['port_id'])
            # Deleting the VM's port disassociates the floating IP in the same
            # transaction.
            directory.get_plugin().delete_port(ctx, vm['id'])
            self.worker.drain(10)
            self.assertIsNone(self.cluster.bodies('floatingips', fip['id'])[-1]['port_id'])
            l3.delete_floatingip(ctx, fip['id'])
            l3.remove_router_interface(ctx, router['id'], {'subnet_id': sub['subnet']['id']})
            l3.delete_router(ctx, router['id'])
            self.worker.drain(10)
            deletes = [r.path for r in self.cluster.journal_requests() if r.method == 'DELETE']
            self.assertIn(f'/neutron/ports/{vm["id"]}', deletes)
            self.assertIn(f'/neutron/floatingips/{fip["id"]}', deletes)
            self.assertEqual(f'/neutron/routers/{router["id"]}', deletes[-1])

    def test_full_sync_sends_everything(self) -> None:
        with self.network() as net:
            report = self.worker.sync_now()
            self.assertEqual([], report['failed'])
            body = [r for r in self.cluster.requests if r.path == '/neutron/sync'][-1].body
            self.assertEqual({'networks', 'subnets', 'ports', 'security_groups', 'routers',
                              'floatingips', 'address_groups'}, set(body))
            self.assertIn(net['network']['id'], [n['id'] for n in body['networks']])


# Of Neutron's own tests, only a handful: the wiring, not Neutron, is tested.
for _name in dir(test_plugin.TestMl2NetworksV2):
    if _name.startswith('test') and _name not in INHERITED:
        setattr(TestMidonetRyuSmoke, _name, None)
