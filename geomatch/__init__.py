"""geomatch: match GPS trails of tagged subjects against crime records, measure and rank the hits."""
from __future__ import annotations

__version__ = "0.1.0"
