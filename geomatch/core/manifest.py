"""Run manifests: SHA-256 of inputs and outputs, parameters, version, counts; and their verification.

A manifest is ``manifest.json`` in an output folder. Output paths are stored relative to that folder, so a
folder can be moved or copied and still verified. ``generated_at`` is the only wall-clock value in any output.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from concurrent.futures import Future, ThreadPoolExecutor
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


IN_LINE_BYTES = 32 << 20
"""Files that hold less than this in all (bytes) are hashed one after another on the calling thread: starting
two threads costs more CPU than hashing an evidence pack's few megabytes (about 1 ms a pack)."""


def file_entries(paths: Iterable[Path | str], relative_to: Path | None = None) -> list[dict[str, Any]]:
    """:func:`file_entry` of each file, two files at a time (hashlib releases the GIL while it hashes), or in
    turn when they are small (:data:`IN_LINE_BYTES` in all)."""
    files = [Path(p) for p in paths]
    if sum(p.stat().st_size for p in files) < IN_LINE_BYTES:
        return [file_entry(p, relative_to) for p in files]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sha256") as pool:
        return list(pool.map(lambda p: file_entry(p, relative_to), files))


_STARTED: dict[tuple[str, int, int], Future[str]] = {}
"""Digests started by :func:`start_hashing`, by file (resolved path, size, modification time in ns), until a
:func:`hash_in_background` takes them up."""


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def start_hashing(paths: Iterable[Path | str]) -> None:
    """Start hashing the files among ``paths``, one after another on a thread, for a later
    :func:`hash_in_background` of the same files (unchanged since) to take up. A command calls it before its
    heavy imports (pandas, numba: about a second on one core), so the hashing runs on the core they leave idle."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    for path in (Path(p) for p in paths):
        if path.is_file():
            _STARTED[_stamp(path)] = pool.submit(sha256_file, path)
    pool.shutdown(wait=False)  # the thread ends when the files are hashed


def hash_in_background(paths: Iterable[Path | str]) -> Future[list[dict[str, Any]]]:
    """Start hashing ``paths`` on a thread; the future gives their entries (as :func:`file_entry`) for
    :func:`write_manifest`'s ``inputs``. A run hashes its input files this way while it reads and matches
    them, so the 0.5 s a 459 MB CSV takes is spent on a core the run's single-threaded stages leave idle; files
    whose hashing :func:`start_hashing` began are not read again."""
    files = [Path(p) for p in paths]
    stamps = {path: _stamp(path) for path in files if path.is_file()}
    resolved = {stamp[0] for stamp in stamps.values()}
    found = {key: _STARTED.pop(key) for key in list(_STARTED) if key[0] in resolved}  # a stale one is dropped
    started = {path: found.get(stamp) for path, stamp in stamps.items()}

    def entries() -> list[dict[str, Any]]:
        return [{"path": str(p), "sha256": started[p].result(), "bytes": p.stat().st_size} if started.get(p)
                else file_entry(p) for p in files]

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    try:
        return pool.submit(entries)
    finally:
        pool.shutdown(wait=False)  # the thread ends when the job is done


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


def write_manifest(directory: Path, *, tool: str, parameters: Any, inputs: Iterable[Path | dict[str, Any]],
                   outputs: Iterable[Path], counts: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write ``directory/manifest.json`` describing one run.

    Args:
        directory: the run's output folder; outputs must lie inside it.
        tool: which command made it (``geomatch match``, ``vvol score``, ...).
        parameters: the configuration (a frozen dataclass or a mapping).
        inputs: input files, hashed and named by the path given, or their entries hashed already (as
            :func:`file_entry` or :func:`hash_in_background` give them).
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
        "inputs": [dict(p) if isinstance(p, dict) else file_entry(Path(p)) for p in inputs],
        "outputs": file_entries(sorted(outputs), directory),
        "counts": to_jsonable(counts or {}),
    }
    if extra:
        manifest.update(to_jsonable(extra))
    path = directory / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class VerifyProblem:
    """One file that does not match the manifests."""

    path: str
    problem: str  # "changed", "missing" or "not listed" (in the folder but in no manifest)


def read_manifest(path: Path) -> dict[str, Any]:
    """A ``manifest.json`` read and checked for the shape verification needs; :class:`InputError` naming the file
    when it is unreadable, not JSON (a truncated file, say) or not a manifest."""
    from geomatch.core.errors import InputError

    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read the manifest: {error.strerror or error}", file=str(path)) from error
    except UnicodeDecodeError as error:
        raise InputError("the manifest is not UTF-8 text (a binary file?)", file=str(path)) from error
    except json.JSONDecodeError as error:
        raise InputError(f"the manifest is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                         "it may be truncated", file=str(path)) from error
    outputs = manifest.get("outputs") if isinstance(manifest, dict) else None
    if not isinstance(outputs, list):
        raise InputError("the manifest has no list of outputs: it is not a geomatch or vvol manifest", file=str(path))
    for number, entry in enumerate(outputs, start=1):
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("path", "sha256"))):
            raise InputError(f"output {number} of the manifest has no path and sha256", file=str(path))
        relative = Path(entry["path"])
        if relative.is_absolute() or ".." in relative.parts:
            raise InputError(f"output {number} of the manifest ({entry['path']}) lies outside its folder",
                             file=str(path))
    return manifest


def verify_manifest(directory: Path) -> list[VerifyProblem]:
    """Recompute every output hash in ``directory/manifest.json``; return the files that changed or are missing
    (:func:`verify_tree` also finds the files no manifest lists)."""
    manifest = read_manifest(directory / MANIFEST_NAME)
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
    plus the run's own), and report every file that no manifest lists. Returns the number of manifests and the
    problems, with paths relative to ``directory``.

    A ``manifest.json`` need not be listed itself (the outermost one cannot be); every other file must be listed
    by a manifest in its folder or a folder above it.
    """
    directory = Path(directory)
    manifests = sorted(directory.rglob(MANIFEST_NAME))
    problems, listed = [], set()
    for manifest in manifests:
        folder = manifest.parent
        prefix = folder.relative_to(directory)
        for problem in verify_manifest(folder):
            problems.append(VerifyProblem((prefix / problem.path).as_posix(), problem.problem))
        listed.update((prefix / entry["path"]).as_posix() for entry in read_manifest(manifest)["outputs"])
    if manifests:
        for path in sorted(p for p in directory.rglob("*") if not p.is_dir()):
            relative = path.relative_to(directory).as_posix()
            if path.name != MANIFEST_NAME and relative not in listed:
                problems.append(VerifyProblem(relative, "not listed"))
    return len(manifests), problems
