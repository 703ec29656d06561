"""Clickatell legacy HTTP/S API simulator for tests, benchmarks and the local stack."""

from local.simulator.answers import Record, format_answer
from local.simulator.options import Faults, Settings
from local.simulator.server import ClickatellSimulator

__all__ = ["ClickatellSimulator", "Faults", "Record", "Settings", "format_answer"]
