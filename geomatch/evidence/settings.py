"""A force's settings for evidence packs, set once in a file instead of on every command.

``geomatch.toml`` in the working folder (or the file given with ``--settings``)::

    [evidence]
    basemap = ["/data/os/zoomstack_suffolk.gpkg", "/data/tiles/suffolk.mbtiles"]   # or one path

Relative paths are taken from the settings file's folder. Options given on the command line win. Other
sections are left to other parts of geomatch; an unknown key in ``[evidence]`` is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geomatch.core.errors import InputError
from geomatch.core.tables import read_toml

SETTINGS_NAME = "geomatch.toml"
EVIDENCE_KEYS = ("basemap",)


@dataclass(frozen=True)
class EvidenceSettings:
    """``[evidence]`` of the settings file. ``basemap``: the basemap files (absolute), ``()`` when unset;
    ``source``: the file read, or ``None``."""

    basemap: tuple[Path, ...] = ()
    source: Path | None = None


def load_settings(path: Path | str | None = None, *, folder: Path | str = ".") -> EvidenceSettings:
    """The evidence settings of ``path``, else of ``geomatch.toml`` in ``folder`` when there is one, else none.

    Raises:
        InputError: the file cannot be read, ``[evidence]`` has an unknown key, or a basemap file is missing.
    """
    if path is None:
        found = Path(folder) / SETTINGS_NAME
        if not found.is_file():
            return EvidenceSettings()
        path = found
    path = Path(path)
    section = read_toml(path).get("evidence", {})
    if not isinstance(section, dict):
        raise InputError("[evidence] must be a table of settings", file=str(path))
    unknown = sorted(set(section) - set(EVIDENCE_KEYS))
    if unknown:
        raise InputError(f"unknown setting(s) in [evidence]: {', '.join(unknown)} (expected "
                         f"{', '.join(EVIDENCE_KEYS)})", file=str(path))
    basemap = section.get("basemap", [])
    if isinstance(basemap, str):
        basemap = [basemap]
    if not isinstance(basemap, list) or not all(isinstance(p, str) and p for p in basemap):
        raise InputError("[evidence] basemap must be a path or a list of paths", file=str(path))
    paths = tuple((path.parent / p).resolve() if not Path(p).is_absolute() else Path(p) for p in basemap)
    for basemap_path in paths:
        if not basemap_path.is_file():
            raise InputError(f"[evidence] basemap {basemap_path} does not exist", file=str(path))
    return EvidenceSettings(paths, path)
