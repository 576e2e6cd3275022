"""What a tenant's write may reference: nothing of another tenant's that the
store would write into."""
from __future__ import annotations

import dataclasses
import uuid

import pytest

from cluster_proxy.rest_api.errors import ApiError
from cluster_proxy.rest_api.ownership import Ownership
from midonet_ryu.api.resources import BY_COLLECTION
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Route, Router
from midonet_ryu.topology.rules import Chain, PortGroup, Rule


@dataclasses.dataclass(frozen=True)
class Alice:
    tenant_id: str | None = "tenant-a"
    is_admin: bool = False


class _Tx:
    def __init__(self, *objs) -> None:
        self.objs = {o.id: o for o in objs}

    def find(self, cls, obj_id):
        obj = self.objs.get(obj_id)
        return obj if isinstance(obj, cls) else None


HER_CHAIN = Chain(id=uuid.uuid4(), tenant_id="tenant-a")
BOBS_CHAIN = Chain(id=uuid.uuid4(), tenant_id="tenant-b")
HER_BRIDGE = Network(id=uuid.uuid4(), tenant_id="tenant-a")
HER_ROUTER = Router(id=uuid.uuid4(), tenant_id="tenant-a")
BOBS_BRIDGE = Network(id=uuid.uuid4(), tenant_id="tenant-b")
BOBS_PORT = Port(id=uuid.uuid4(), network_id=BOBS_BRIDGE.id)
BOBS_PG = PortGroup(id=uuid.uuid4(), tenant_id="tenant-b")
TX = _Tx(HER_CHAIN, BOBS_CHAIN, HER_BRIDGE, HER_ROUTER, BOBS_BRIDGE, BOBS_PORT, BOBS_PG)


@pytest.mark.parametrize("collection,obj", [
    ("bridges", Network(id=uuid.uuid4(), inbound_filter_id=BOBS_CHAIN.id)),
    ("rules", Rule(id=uuid.uuid4(), chain_id=HER_CHAIN.id, jump_chain_id=BOBS_CHAIN.id)),
    ("routes", Route(id=uuid.uuid4(), router_id=HER_ROUTER.id,
                     next_hop_port_id=BOBS_PORT.id)),
    ("ports", Port(id=uuid.uuid4(), network_id=HER_BRIDGE.id, port_group_ids=(BOBS_PG.id,))),
])
def test_references_into_another_tenants_objects_are_403(collection, obj):
    with pytest.raises(ApiError) as e:
        Ownership(None).claim(Alice(), BY_COLLECTION[collection], obj, TX)  # type: ignore
    assert e.value.status == 403


def test_references_to_her_own_and_ones_already_there_are_fine():
    own = Network(id=uuid.uuid4(), inbound_filter_id=HER_CHAIN.id)
    claimed = Ownership(None).claim(Alice(), BY_COLLECTION["bridges"], own, TX)  # type: ignore
    assert claimed.tenant_id == "tenant-a"
    # an update keeps what an admin set before
    current = Network(id=own.id, tenant_id="tenant-a", inbound_filter_id=BOBS_CHAIN.id)
    renamed = current.replace(name="renamed")
    Ownership(None).claim(Alice(), BY_COLLECTION["bridges"], renamed, TX,  # type: ignore
                          current)
