"""Stale outputs: an evidence run into a folder that holds an earlier run's packs replaces them.

An evidence folder belongs to the run that wrote it: its index and manifest list that run's packs only. So
before packs are written, every file that an earlier ``geomatch evidence`` manifest in the folder lists (the
run's index, each pack's exhibits and manifests) is removed, and pack folders left empty are removed too: the
packs of hits that are gone disappear, and those still selected are written afresh. Only files a manifest lists
are touched (a listed path that would lie outside its folder is ignored), so anything else a person saved there
stays, and ``geomatch verify`` reports it as not listed.

Removing rather than refusing without ``--overwrite``: re-running a day's match into the same folder is the
everyday case, and a folder that mixes two runs' packs is exactly the error this prevents; the files removed
are the tool's own, provably (their manifests list them), and can be made again from the same inputs or store.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from geomatch.core.manifest import MANIFEST_NAME

log = logging.getLogger(__name__)
TOOL = "geomatch evidence"


def _listed(manifest: Path) -> list[Path]:
    """The files an evidence manifest lists (its outputs and itself), inside its folder; [] when the file is not
    an evidence manifest."""
    try:
        content = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(content, dict) or content.get("tool") != TOOL:
        return []
    folder = manifest.parent.resolve()
    paths = [manifest.resolve()]
    for entry in content.get("outputs", []):
        path = (folder / str(entry.get("path", ""))).resolve()
        if path != folder and folder in path.parents:
            paths.append(path)
    return paths


def remove_earlier_run(out_dir: Path) -> list[Path]:
    """Remove from ``out_dir`` every file that an earlier evidence run's manifests list (the run's own and its
    packs'), and the pack folders that leaves empty. Returns the files removed."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    out_dir = out_dir.resolve()
    manifests = sorted(out_dir.glob(f"*/{MANIFEST_NAME}")) + [out_dir / MANIFEST_NAME]  # packs' first
    removed = []
    for manifest in manifests:
        for path in _listed(manifest):
            if path.is_file():
                path.unlink()
                removed.append(path)
    for folder in sorted({p.parent for p in removed if p.parent != out_dir}):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    if removed:
        log.info("removed %d files of an earlier evidence run from %s", len(removed), out_dir)
    return removed
