"""Agent tests run on clouds of dummy-datapath hypervisors (make_cloud)."""
import pytest


@pytest.fixture
def cloud(make_cloud):
    return make_cloud(2)
