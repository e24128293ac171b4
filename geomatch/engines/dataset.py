"""Partitioned trails datasets: hive-style Parquet folders on a local path or any fsspec URL.

Layout (one Parquet file per partition, as :func:`write_partitioned` writes it)::

    trails/day=2026-10-22/part-0.parquet              by day (the UTC date of each fix)
    trails/subject_bucket=07/part-0.parquet           by subject (a stable hash bucket of subject_id)
    trails/subject_bucket=07/day=2026-10-22/part-0.parquet

Keys read: ``day`` (``YYYY-MM-DD``, a UTC day: the fixes from 00:00:00Z inclusive to the next 00:00:00Z
exclusive, or ``unknown`` for rows whose time could not be read), and ``subject_id`` or ``subject_bucket``
(groups of subjects; a subject lies in one group only). Files hold the trail columns as in the original file
(``subject_id``, ``timestamp``, ``lat``/``lon`` or ``x``/``y``, ...), plus ``original_row``: the row number in the
original file, which becomes the ``source_row`` of quarantined rows so they can be found there (without it,
``source_row`` counts rows within the partition file).
"""
from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import quote, unquote

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geomatch.core.errors import InputError
from geomatch.core.quarantine import SOURCE_ROW
from geomatch.core.tables import CRS_METADATA, ORIGINAL_ROW, RawTable, read_table, require_columns
from geomatch.core.times import parse_times

log = logging.getLogger(__name__)

DAY_KEY = "day"
SUBJECT_KEYS = ("subject_id", "subject_bucket")
UNKNOWN = "unknown"
"""Key value for rows whose day or subject could not be read (validation quarantines them)."""
_ONE_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class PartitionFile:
    """One Parquet file of a partitioned dataset.

    Attributes:
        path: the path as the dataset's filesystem names it.
        name: the path relative to the dataset root (``day=2026-10-22/part-0.parquet``), used in reports.
        day: the UTC midnight starting the file's day; ``None`` when the dataset has no ``day`` key.
        unknown_day: the file is the ``day=unknown`` partition.
        group: the subject group (``subject_bucket``/``subject_id`` value); ``None`` without such a key.
    """

    path: str
    name: str
    day: pd.Timestamp | None
    unknown_day: bool
    group: str | None

    @property
    def day_end(self) -> pd.Timestamp | None:
        """The first instant after the file's day (exclusive end)."""
        return None if self.day is None else self.day + _ONE_DAY


@dataclass(frozen=True)
class Dataset:
    """A partitioned trails dataset: its filesystem, its root as given, and its files sorted by name."""

    fs: fsspec.AbstractFileSystem
    url: str
    files: tuple[PartitionFile, ...]


def open_dataset(url: str) -> Dataset:
    """List the Parquet files of a partitioned dataset at a local path or fsspec URL (``s3://``, ``gs://``...).

    Raises:
        InputError: the location cannot be listed, holds no Parquet files, or uses keys or values we do not read.
    """
    try:
        fs, root = fsspec.core.url_to_fs(url)
        found = sorted(p for p in fs.find(root) if p.endswith((".parquet", ".pq")))
    except Exception as error:  # any listing failure is bad input, named in one sentence
        raise InputError(f"the trails dataset could not be listed ({type(error).__name__}: {error})",
                         file=url) from error
    if not found:
        raise InputError("no Parquet files found in the trails dataset (expected day=YYYY-MM-DD/*.parquet "
                         "or subject_bucket=NN/*.parquet; see geomatch partition)", file=url)
    root = root.rstrip("/")
    files = tuple(_partition_file(path, path[len(root):].lstrip("/"), url) for path in found)
    _check_layout(files, url)
    return Dataset(fs=fs, url=url, files=files)


def _partition_file(path: str, name: str, url: str) -> PartitionFile:
    keys = {}
    for segment in name.split("/")[:-1]:
        key, sep, value = segment.partition("=")
        if not sep:
            raise InputError(f"folder '{segment}' is not a key=value partition", file=f"{url}/{name}")
        if key != DAY_KEY and key not in SUBJECT_KEYS:
            raise InputError(f"partition key '{key}' is not one geomatch reads (day, subject_id, subject_bucket)",
                             file=f"{url}/{name}")
        keys[key] = unquote(value)
    day, unknown_day = None, False
    if DAY_KEY in keys:
        unknown_day = keys[DAY_KEY] == UNKNOWN
        if not unknown_day:
            try:
                day = pd.Timestamp(keys[DAY_KEY], tz="UTC")
            except ValueError as error:
                raise InputError(f"day '{keys[DAY_KEY]}' is not a date YYYY-MM-DD", file=f"{url}/{name}") from error
            if day != day.normalize():
                raise InputError(f"day '{keys[DAY_KEY]}' is not a date YYYY-MM-DD", file=f"{url}/{name}")
    group_keys = [k for k in SUBJECT_KEYS if k in keys]
    group = "/".join(f"{k}={keys[k]}" for k in group_keys) if group_keys else None
    return PartitionFile(path=path, name=name, day=day, unknown_day=unknown_day, group=group)


def _check_layout(files: Iterable[PartitionFile], url: str) -> None:
    """Every file of a dataset uses the same keys: all have a day (or ``unknown``) or none has, and likewise
    all have a subject group or none has; without any key there is nothing to split the work by."""
    files = list(files)
    has_day = {f.day is not None or f.unknown_day for f in files}
    has_group = {f.group is not None for f in files}
    if len(has_day) > 1 or len(has_group) > 1:
        raise InputError("the dataset mixes files with and without partition keys", file=url)
    if has_day == {False} and has_group == {False}:
        raise InputError("the dataset has no partition keys (expected day=YYYY-MM-DD/ or subject_bucket=NN/ "
                         "folders; see geomatch partition)", file=url)


@dataclass(frozen=True)
class PartitionRead:
    """One partition file as read: the raw table, and the SHA-256 and size (bytes) of the file read."""

    table: RawTable
    sha256: str
    bytes: int


def read_partition(fs: fsspec.AbstractFileSystem, part: PartitionFile, shown: str,
                   column_map: Mapping[str, str] | None = None) -> PartitionRead:
    """Read one partition file into a :class:`RawTable` named ``part.name``.

    Args:
        fs: the dataset's filesystem.
        part: the file.
        shown: how to name the file in an error (its full path or URL).
        column_map: ``{name in file: our name}``.

    Raises:
        InputError: the file cannot be read as Parquet (naming ``shown``).
    """
    column_map = dict(column_map or {})
    try:
        data = fs.cat_file(part.path)
        parquet = pq.ParquetFile(io.BytesIO(data))
        reverse = {ours: theirs for theirs, ours in column_map.items()}
        dictionary = [reverse.get(c, c) for c in ("subject_id", "source")
                      if reverse.get(c, c) in parquet.schema_arrow.names]
        table = pq.read_table(io.BytesIO(data), read_dictionary=dictionary or None)
        frame = table.to_pandas().rename(columns=column_map)
        numbered = next((c for c in (ORIGINAL_ROW, SOURCE_ROW) if c in frame), None)  # row numbers kept earlier
        frame.insert(0, SOURCE_ROW, frame.pop(numbered).astype(np.int64) if numbered
                     else pd.RangeIndex(1, len(frame) + 1))
    except Exception as error:  # any reader failure is bad input, named in one sentence
        raise InputError(f"the partition could not be read ({type(error).__name__}: {error})".replace("\n", " "),
                         file=shown) from error
    metadata = table.schema.metadata or {}
    crs = metadata[CRS_METADATA].decode() if CRS_METADATA in metadata else None
    raw = RawTable(path=Path(part.name), frame=frame.reset_index(drop=True), crs=crs)
    return PartitionRead(raw, hashlib.sha256(data).hexdigest(), len(data))


def subject_bucket(subject_id: pd.Series, buckets: int) -> pd.Series:
    """A stable bucket number (zero-padded text) of each subject id: SHA-256 of the stripped id, modulo
    ``buckets``; ``unknown`` for a missing or blank id."""
    width = len(str(buckets - 1))
    text = subject_id.astype("string").str.strip()
    labels = {}
    for value in text.dropna().unique():
        if value:
            labels[value] = str(int(hashlib.sha256(value.encode("utf-8")).hexdigest()[:12], 16) % buckets).zfill(width)
    return text.map(labels).fillna(UNKNOWN).astype(str)


def write_partitioned(trails: Path | str, out: str, *, by: tuple[str, ...] = ("day",), buckets: int = 16,
                      column_map: Mapping[str, str] | None = None, naive_tz: str | None = None) -> list[str]:
    """Write a trails file as a partitioned dataset (see the module docstring for the layout).

    Rows are not validated here (``geomatch match`` does that, per partition); they are only placed. A row
    whose time cannot be read goes to ``day=unknown``, one without a subject to ``subject_bucket=unknown``, and
    matching then quarantines them with their reasons.

    Args:
        trails: a trails file (CSV, Parquet, GeoParquet or GeoPackage), read whole into memory.
        out: the dataset root, a local folder or an fsspec URL; must not hold a dataset already.
        by: ``("day",)``, ``("subject",)`` or ``("subject", "day")``.
        buckets: number of subject buckets (``by`` with ``subject``).
        column_map: ``{name in file: our name}``, applied before writing (the dataset uses our names).
        naive_tz: time zone of timestamps without an offset; use the same value when matching.

    Returns:
        The partition file paths written, sorted.
    """
    if not by or set(by) - {"day", "subject"} or len(set(by)) != len(by):
        raise InputError(f"partition by 'day', 'subject' or both, not {','.join(by) or 'nothing'}")
    if buckets < 1:
        raise InputError("the number of subject buckets must be at least 1")
    table = read_table(trails, column_map=column_map)
    require_columns(table, ["subject_id", "timestamp"])
    frame = table.frame.rename(columns={SOURCE_ROW: ORIGINAL_ROW})
    keys = []
    for key in ("subject", "day"):  # subject folders outside day folders: a subject's days sit together
        if key not in by:
            continue
        if key == "day":
            utc = parse_times(frame["timestamp"], side="instant", naive_tz=naive_tz).utc
            keys.append(pd.Series(utc.dt.strftime("%Y-%m-%d"), index=frame.index).fillna(UNKNOWN).rename(DAY_KEY))
        else:
            keys.append(subject_bucket(frame["subject_id"], buckets).rename("subject_bucket"))
    fs, root = fsspec.core.url_to_fs(out)
    root = root.rstrip("/")
    if fs.exists(root) and any(p.endswith(".parquet") for p in fs.find(root)):
        raise InputError("the output already holds Parquet files; choose an empty folder", file=out)
    metadata = {CRS_METADATA: table.crs.encode()} if table.crs else {}
    written = []
    for values, rows in frame.groupby(keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        folder = "/".join(f"{k.name}={quote(str(v), safe='-')}" for k, v in zip(keys, values))
        path = f"{root}/{folder}/part-0.parquet"
        arrow = pa.Table.from_pandas(rows.reset_index(drop=True), preserve_index=False)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **metadata})
        fs.makedirs(f"{root}/{folder}", exist_ok=True)
        with fs.open(path, "wb") as handle:
            pq.write_table(arrow, handle)
        written.append(path)
    log.info("wrote %d partitions of %d rows to %s", len(written), len(frame), out)
    return sorted(written)
