"""A hit's evidence pack on disk (made by ``geomatch evidence``), served file by file or as one zip.

Only the files a pack is made of can be asked for, by name from :data:`FILES`: a request naming anything else
(``..``, an encoded separator, another file) is refused before the file system is touched. The folder is the
hit id made safe (:func:`geomatch.evidence.pack_folder`) under the configured evidence folder.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geomatch.evidence.naming import safe_folder_name


@dataclass(frozen=True)
class PackFile:
    """A file of a pack: its media type, whether the browser shows it in the page, and the access-log action."""

    media_type: str
    inline: bool
    action: str  # "view_file" (consultation) or "download" (disclosure)


FILES: dict[str, PackFile] = {
    "map.html": PackFile("text/html; charset=utf-8", True, "view_file"),
    "map.png": PackFile("image/png", True, "view_file"),
    "timeline.png": PackFile("image/png", True, "view_file"),
    "points.csv": PackFile("text/csv; charset=utf-8", False, "download"),
    "statement.pdf": PackFile("application/pdf", False, "download"),
    "statement.docx": PackFile("application/vnd.openxmlformats-officedocument.wordprocessingml.document", False,
                               "download"),
}
#: The map page's own policy: its inline script and styles, nothing fetched (as it states in its meta tag).
MAP_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
POINTS_SHOWN = 500


def pack_dir(evidence_dir: Path | None, hit_id: str) -> Path | None:
    """The hit's pack folder when there is one, else None."""
    if evidence_dir is None:
        return None
    folder = Path(evidence_dir) / safe_folder_name(hit_id)
    return folder if folder.is_dir() else None


def pack_file(evidence_dir: Path | None, hit_id: str, name: str) -> Path | None:
    """A file of the hit's pack, or None when ``name`` is not a pack file's name or the file is not there."""
    folder = pack_dir(evidence_dir, hit_id)
    if name not in FILES or folder is None:
        return None
    path = folder / name
    return path if path.is_file() else None


def available(evidence_dir: Path | None, hit_id: str) -> list[str]:
    """The pack files present for the hit, in :data:`FILES` order."""
    folder = pack_dir(evidence_dir, hit_id)
    return [] if folder is None else [name for name in FILES if (folder / name).is_file()]


def pack_zip(evidence_dir: Path | None, hit_id: str) -> bytes | None:
    """The whole pack folder (files directly in it, manifest included) as a zip, or None without a pack."""
    folder = pack_dir(evidence_dir, hit_id)
    if folder is None:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink():
                archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def points(evidence_dir: Path | None, hit_id: str, limit: int = POINTS_SHOWN) -> tuple[list[str], list[list[str]], int]:
    """The pack's points table: (columns, the first ``limit`` rows as text, number of rows)."""
    path = pack_file(evidence_dir, hit_id, "points.csv")
    if path is None:
        return [], [], 0
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return list(frame.columns), frame.head(limit).values.tolist(), len(frame)
