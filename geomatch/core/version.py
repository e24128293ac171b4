"""The project's version, one place for both packages (``geomatch --version`` and ``vvol --version`` print it)."""
from __future__ import annotations

__version__ = "0.1.0"
