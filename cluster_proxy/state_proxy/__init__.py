"""The State Proxy cluster service (entry point ``state_proxy``)."""
from cluster_proxy.state_proxy.service import StateProxyService

__all__ = ["StateProxyService"]
