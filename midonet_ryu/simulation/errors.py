"""Errors of the simulation."""
from __future__ import annotations


class SimulationError(Exception):
    """The topology is broken for this packet (loop, dangling reference, malformed
    address in a model object): the simulation ends with ERROR_DROP."""
