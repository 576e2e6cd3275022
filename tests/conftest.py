"""Shared test settings: functional tests need root-level tools (OVS, Java)."""
import os
import sys

# The repository root holds ``tools`` (the lab); make it importable from tests.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# tests/neutron drive Neutron's plugin in process: they run in Neutron's own
# venv (tools/neutron-venv, `tox -e neutron`), where neutron is importable
try:
    import neutron  # noqa: F401
except ImportError:
    collect_ignore = ["neutron"]
