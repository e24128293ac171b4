"""Run manifests: SHA-256 of inputs and outputs, parameters, version, counts; and their verification.

A manifest is ``manifest.json`` in an output folder. Output paths are stored relative to that folder, so a
folder can be moved or copied and still verified. ``generated_at`` is the only wall-clock value in any output.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: Path, relative_to: Path | None = None) -> dict[str, Any]:
    """``{"path", "sha256", "bytes"}`` for one file (path relative to ``relative_to`` when given)."""
    shown = path.relative_to(relative_to).as_posix() if relative_to is not None else str(path)
    return {"path": shown, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def to_jsonable(value: Any) -> Any:
    """Dataclasses, paths, mappings and sequences as plain JSON values (dict keys sorted on dump)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def write_manifest(directory: Path, *, tool: str, parameters: Any, inputs: Iterable[Path],
                   outputs: Iterable[Path], counts: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write ``directory/manifest.json`` describing one run.

    Args:
        directory: the run's output folder; outputs must lie inside it.
        tool: which command made it (``geomatch match``, ``vvol score``, ...).
        parameters: the configuration (a frozen dataclass or a mapping).
        inputs: input files, hashed and named by the path given.
        outputs: output files inside ``directory``, hashed and named relative to it.
        counts: row counts and other figures of the run.
        extra: anything else worth recording (the CRS transformation used, say).
    """
    from geomatch.core.version import __version__

    manifest = {
        "tool": tool,
        "version": __version__,
        "python": platform.python_version(),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": to_jsonable(parameters),
        "inputs": [file_entry(Path(p)) for p in inputs],
        "outputs": [file_entry(Path(p), directory) for p in sorted(outputs)],
        "counts": to_jsonable(counts or {}),
    }
    if extra:
        manifest.update(to_jsonable(extra))
    path = directory / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class VerifyProblem:
    """One output file that does not match its manifest."""

    path: str
    problem: str  # "changed", "missing" or "not listed" (a file no manifest in the tree lists)


def verify_manifest(directory: Path) -> list[VerifyProblem]:
    """Recompute every output hash in ``directory/manifest.json``; return the files that changed or are missing."""
    manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    problems = []
    for entry in manifest["outputs"]:
        path = directory / entry["path"]
        if not path.is_file():
            problems.append(VerifyProblem(entry["path"], "missing"))
        elif sha256_file(path) != entry["sha256"]:
            problems.append(VerifyProblem(entry["path"], "changed"))
    return problems


def verify_tree(directory: Path) -> tuple[int, list[VerifyProblem]]:
    """Verify every ``manifest.json`` in ``directory`` and its subfolders (an evidence folder has one per pack
    plus the run's own), and report every file that none of them lists (left by an earlier run, or added since).
    Returns the number of manifests and the problems, with paths relative to ``directory``.
    """
    directory = Path(directory)
    manifests = sorted(directory.rglob(MANIFEST_NAME))
    problems = []
    listed = {m.resolve() for m in manifests}
    for manifest in manifests:
        folder = manifest.parent
        prefix = folder.relative_to(directory)
        for problem in verify_manifest(folder):
            problems.append(VerifyProblem((prefix / problem.path).as_posix(), problem.problem))
        entries = json.loads(manifest.read_text(encoding="utf-8"))["outputs"]
        listed.update((folder / entry["path"]).resolve() for entry in entries)
    if manifests:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            if path.resolve() not in listed:
                problems.append(VerifyProblem(path.relative_to(directory).as_posix(), "not listed"))
    return len(manifests), problems
