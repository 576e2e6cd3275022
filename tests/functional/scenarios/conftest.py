"""Scenario suite: clouds of hypervisors in network namespaces (real kernel
VMs) or on the dummy datapath, with real agents and a real ZooKeeper."""
import pytest

from tools.lab.netns import netns_unavailable


@pytest.fixture
def ns_cloud(make_cloud):
    """Clouds whose hypervisors live in network namespaces (kernel VMs)."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    return lambda n=2, **kwargs: make_cloud(n, netns=True, **kwargs)


@pytest.fixture
def routed(ns_cloud):
    """Two subnets joined by a router; VM A (198.51.100.1) on host 1 and VM B
    (203.0.113.1) on host 2, each with the router as its gateway."""
    cloud = ns_cloud(2)
    hv1, hv2 = cloud.hosts
    left, right = cloud.network("left"), cloud.network("right")
    router = cloud.router("edge")
    rp_left = cloud.attach(router, left, "198.51.100.254", "198.51.100.0/24")
    rp_right = cloud.attach(router, right, "203.0.113.254", "203.0.113.0/24")
    pa, a = cloud.kernel_vm(hv1, left, "vma", "198.51.100.1/24", gateway="198.51.100.254")
    pb, b = cloud.kernel_vm(hv2, right, "vmb", "203.0.113.1/24", gateway="203.0.113.254")
    cloud.settle((hv1, pa), (hv2, pb))
    return cloud, router, (rp_left, rp_right), (pa, a), (pb, b)
