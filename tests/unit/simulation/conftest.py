"""Shared scenario: two networks joined by a router (see scenario.build_routed)."""
from __future__ import annotations

import pytest

from tools.scenario import Routed, build_routed


@pytest.fixture
def routed() -> Routed:
    return build_routed()
