"""vvol: repeat victims, offenders and locations (V-VOL), scored for tasking meetings."""
from __future__ import annotations

from geomatch.core.version import __version__

__all__ = ["__version__"]
