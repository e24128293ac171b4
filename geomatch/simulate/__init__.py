"""A seeded synthetic world (town, subjects, trails, crimes, ground truth) for trying and testing the engine.

:mod:`.model` holds the result types, :mod:`.world` draws and writes a world from :mod:`.town` (streets,
addresses, routes), :mod:`.plans` (subjects and their movements), :mod:`.crimes` (windows, offenders' crimes,
planted coincidences) and :mod:`.dirty` (bad rows for the quarantine).
"""
from __future__ import annotations

from geomatch.simulate.model import Truth, World
from geomatch.simulate.world import simulate_world, write_world

__all__ = ["Truth", "World", "simulate_world", "write_world"]
