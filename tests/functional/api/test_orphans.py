"""A child created at the top level names its parent, or is refused: MidoNet
created rules under chains and routes under routers, and an orphan would be an
object nothing uses and no listing under a parent shows."""
import pytest

from tests.functional.api.api_client import ApiClient

pytestmark = pytest.mark.functional


@pytest.mark.parametrize("collection, body, field", [
    ("rules", {"type": "accept"}, "chainId"),
    ("routes", {"type": "Normal"}, "routerId"),
    ("pools", {}, "loadBalancerId"),
    ("pool_members", {"address": "198.51.100.5"}, "poolId"),
    ("vips", {"address": "198.51.100.6"}, "poolId"),
    ("dhcp", {"subnetAddress": "198.51.100.0/24"}, "networkId"),
])
def test_children_need_their_parent(admin: ApiClient, collection, body, field):
    before = admin.read(f"/{collection}")
    refused = admin.expect(400, "POST", f"/{collection}", body).json()
    assert field in refused["message"]
    assert admin.read(f"/{collection}") == before


def test_a_child_naming_its_parent_is_created(admin: ApiClient):
    chain = admin.create("/chains", {"name": "c"})
    rule = admin.create("/rules", {"type": "drop", "chainId": chain["id"]})
    assert [r["id"] for r in admin.read(chain["rules"])] == [rule["id"]]
