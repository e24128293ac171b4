"""Reading input tables, shared by ``geomatch`` and ``vvol``.

Formats: CSV (``.csv``, ``.txt``, ``.tsv``; the delimiter ``,`` ``;`` tab or ``|`` is detected; UTF-8 with or
without a byte-order mark, else Windows-1252 with a note), CSV compressed as ``.csv.gz`` or in a ``.zip`` holding
one CSV, Excel ``.xlsx`` (the first sheet), Parquet/GeoParquet, GeoPackage, GeoJSON and GPX (track points).
Many files (a folder, a glob pattern, or a list of paths) are read as one table with a ``source_file`` column; a
folder of hive-partitioned Parquet files (``day=2026-10-22/part-0.parquet``, as ``geomatch partition`` writes)
is such a list.

Every reader returns a :class:`RawTable`: the file's columns (renamed through an optional column map), text as
it was written (CSV, XLSX) or typed (Parquet, GeoPackage), and ``source_row``, the 1-based data row number in its
file. CSV is read by Arrow's multithreaded reader into Arrow-backed text columns (no Python string per value), so
validators can convert them with vectorised Arrow operations and still quarantine the original text.

A line whose field count differs from the header's is never a stopped run: it becomes a row with every field
missing, its text in ``raw_line`` and its physical line number in ``line_number``, which
:class:`geomatch.core.quarantine.RowChecks` quarantines as ``malformed_line``.
"""
from __future__ import annotations

import csv
import glob
import io
import logging
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError
from geomatch.core.quarantine import LINE_NUMBER, RAW_LINE, SOURCE_FILE, SOURCE_ROW

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
GPKG_SUFFIXES = {".gpkg"}
GEOJSON_SUFFIXES = {".geojson"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
GPX_SUFFIXES = {".gpx"}
ZIP_SUFFIXES = {".zip"}
DELIMITERS = (",", ";", "\t", "|")
"""Field delimiters recognised in CSV files, in order of preference when a line is ambiguous."""
CRS_METADATA = b"geomatch_crs"
"""Parquet schema metadata key holding the CRS of ``x``/``y`` columns (written by ``geomatch partition``)."""
ORIGINAL_ROW = "original_row"
"""Column of partition files: the row number in the file they were written from (becomes ``source_row``)."""
_SNIFF_BYTES = 1 << 16
_QUOTED_NEWLINES_BELOW = 64 << 20
"""Files smaller than this (bytes) are read allowing newlines inside quoted fields (slower to split into blocks);
larger ones only when a quote appears in the first 64 KiB."""


@dataclass(frozen=True)
class FileRows:
    """How many rows one input file gave (``malformed`` of them lines with the wrong number of fields)."""

    path: str
    rows: int
    malformed: int = 0


@dataclass(frozen=True)
class RawTable:
    """A table as read: original columns (after the column map), its CRS if it had geometry, notes for people
    (an encoding fallback), and the files it came from (several when a folder, glob or list was read)."""

    path: Path
    frame: pd.DataFrame
    crs: str | None = None
    notes: tuple[str, ...] = ()
    files: tuple[FileRows, ...] = field(default=())


def input_files(source: Path | str | Sequence[Path | str]) -> list[Path]:
    """The files named by ``source``: a file, a folder (every readable file below it, sorted), a glob pattern,
    or a list of any of these.

    Raises:
        InputError: nothing exists there, or a folder or pattern holds no file of a format we read.
    """
    if isinstance(source, (list, tuple)):
        found = [f for item in source for f in input_files(item)]
        return list(dict.fromkeys(found))
    path = Path(source)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p) is not None
                       and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
        if not files:
            raise InputError("the folder holds no CSV, Parquet, GeoPackage, GeoJSON, GPX or XLSX file",
                             file=str(path))
        return files
    if glob.has_magic(str(source)):
        files = sorted(Path(p) for p in glob.glob(str(source), recursive=True) if Path(p).is_file())
        if not files:
            raise InputError("no file matches this pattern", file=str(source))
        return files
    raise InputError("the file does not exist or is not a file", file=str(path))


def read_table(source: Path | str | Sequence[Path | str], *, column_map: Mapping[str, str] | None = None,
               header: bool = True, names: Sequence[str] | None = None, columns: Sequence[str] | None = None,
               categorical: Sequence[str] = (), gpx_subject: str = "track",
               types: Mapping[str, object] | None = None) -> RawTable:
    """Read one input file, or several as one table, into a :class:`RawTable`.

    Args:
        source: a file, a folder, a glob pattern, or a list of them (see :func:`input_files`). Several files
            give a ``source_file`` column (the path as given, or relative to the folder) and ``files`` counts.
        column_map: ``{name in file: name we use}``; unmapped columns keep their names.
        header: CSV only: whether the first line names the columns.
        names: CSV only: column names for a file without a header.
        columns: Parquet only: read just these columns (our names), to save memory.
        categorical: text columns (our names) to return as pandas categoricals, to save memory.
        gpx_subject: GPX only: who the points belong to (``track``, ``file`` or a name; see :func:`read_gpx`).
        types: CSV only: Arrow types (``pa.float64()``, ``pa.timestamp("ns", tz="UTC")``) to convert columns
            (our names) to while reading, in Arrow's parallel parse; when any value of them does not convert,
            the file is read again with every column as text, so the validator quarantines it with its text.

    Raises:
        InputError: a file is missing, unreadable, or in a format we do not read (one sentence naming it).
    """
    files = input_files(source)
    column_map = dict(column_map or {})
    options = dict(header=header, names=names, columns=columns, categorical=categorical, gpx_subject=gpx_subject,
                   types=dict(types or {}))
    if len(files) == 1 and not _is_many(source):
        return _read_file(files[0], column_map, options)
    root = Path(source) if not isinstance(source, (list, tuple)) and Path(source).is_dir() else None
    tables = [_read_file(path, column_map, options) for path in files]
    shown = [str(path.relative_to(root)) if root else str(path) for path in files]
    return combine_tables(tables, shown, source=str(source) if root or not isinstance(source, (list, tuple))
                          else ", ".join(shown), categorical=categorical)


def combine_tables(tables: Sequence[RawTable], shown: Sequence[str], *, source: str,
                   categorical: Sequence[str] = ()) -> RawTable:
    """Tables read from several files as one, with a ``source_file`` column (``shown``: each file's name) and
    per-file row counts; a column missing from a file is missing in its rows.

    Raises:
        InputError: the files give coordinates in different CRSs.
    """
    crs = {t.crs for t in tables}
    if len(crs) > 1:
        raise InputError(f"the files give their coordinates in different CRSs "
                         f"({', '.join(sorted(map(str, crs)))}); convert them to one first", file=source)
    frames = []
    for name, table in zip(shown, tables):
        frame = table.frame.copy(deep=False)
        frame.insert(1, SOURCE_FILE, name)
        frames.append(frame)
    frame = _concat(frames, categorical)
    frame[SOURCE_FILE] = frame[SOURCE_FILE].astype(pd.CategoricalDtype(list(dict.fromkeys(shown))))
    counts = tuple(FileRows(name, len(t.frame), _malformed_count(t.frame)) for name, t in zip(shown, tables))
    notes = tuple(f"{name}: {note}" for name, t in zip(shown, tables) for note in t.notes)
    return RawTable(path=Path(source), frame=frame, crs=crs.pop(), notes=notes, files=counts)


def _is_many(source) -> bool:
    return isinstance(source, (list, tuple)) or Path(source).is_dir() or (
        not Path(source).exists() and glob.has_magic(str(source)))


def _concat(frames: list[pd.DataFrame], categorical: Sequence[str]) -> pd.DataFrame:
    """Frames of several files as one: a column missing from a file is missing in its rows; categoricals stay
    categoricals (their categories united)."""
    names = list(dict.fromkeys(c for f in frames for c in f.columns))
    out = {}
    for name in names:
        parts = [f[name] if name in f else pd.Series(pd.NA, index=f.index, dtype="string") for f in frames]
        if name in categorical or all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            parts = [p if isinstance(p.dtype, pd.CategoricalDtype) else p.astype("string").astype("category")
                     for p in parts]
            parts = [p.cat.rename_categories(pd.Index(p.cat.categories.astype(str), dtype=object)) for p in parts]
            out[name] = pd.Series(pd.api.types.union_categoricals(parts, ignore_order=True))
        else:
            out[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)


def _malformed_count(frame: pd.DataFrame) -> int:
    return int(frame[RAW_LINE].notna().sum()) if RAW_LINE in frame else 0


def _kind(path: Path) -> str | None:
    """The reader for a path from its name: csv, csv.gz, zip, xlsx, parquet, gpkg, geojson, gpx or None."""
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last == ".gz" and len(suffixes) > 1 and suffixes[-2] in CSV_SUFFIXES:
        return "csv.gz"
    for kind, known in (("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES), ("gpkg", GPKG_SUFFIXES),
                        ("geojson", GEOJSON_SUFFIXES), ("xlsx", XLSX_SUFFIXES), ("gpx", GPX_SUFFIXES),
                        ("zip", ZIP_SUFFIXES)):
        if last in known:
            return kind
    return None


def _read_file(path: Path, column_map: dict[str, str], options: dict) -> RawTable:
    kind = _kind(path)
    if kind is None:
        raise InputError(f"unknown file type '{''.join(path.suffixes[-2:]) or path.name}' (use CSV, CSV.GZ, ZIP, "
                         f"XLSX, Parquet, GeoParquet, GeoPackage, GeoJSON or GPX)", file=str(path))
    crs, notes = None, ()
    try:
        if kind in ("csv", "csv.gz", "zip"):
            frame, notes = read_csv(path, header=options["header"], names=options["names"],
                                    categorical=[_theirs(c, column_map) for c in options["categorical"]],
                                    types={_theirs(c, column_map): t for c, t in options["types"].items()})
        elif kind == "parquet":
            frame, crs = _read_parquet(path, column_map, options["columns"], options["categorical"])
        elif kind in ("gpkg", "geojson"):
            frame, crs = _read_geo(path)
        elif kind == "xlsx":
            frame = _read_xlsx(path)
        else:
            frame, crs = read_gpx(path, subject=options["gpx_subject"])
    except InputError:
        raise
    except _reader_errors() as error:  # a file the readers cannot make sense of: bad input, in one sentence
        raise InputError(f"the file could not be read ({type(error).__name__}: {error})".replace("\n", " "),
                         file=str(path)) from error
    frame = frame.rename(columns=column_map)
    if SOURCE_ROW not in frame:
        numbered = frame.pop(ORIGINAL_ROW).astype(np.int64) if ORIGINAL_ROW in frame \
            else pd.Series(np.arange(1, len(frame) + 1, dtype=np.int64), index=frame.index, copy=False)
        frame.insert(0, SOURCE_ROW, numbered)  # a Series, not a range: inserted without a copy (a range was
        # materialised and then copied: 0.08-0.5 s on a force month)
    for note in notes:
        log.warning("%s: %s", path, note)
    return RawTable(path=path, frame=frame.reset_index(drop=True), crs=crs, notes=tuple(notes),
                    files=(FileRows(str(path), len(frame), _malformed_count(frame)),))


def _theirs(ours: str, column_map: Mapping[str, str]) -> str:
    reverse = {o: t for t, o in column_map.items()}
    return reverse.get(ours, ours)


def _reader_errors() -> tuple[type[BaseException], ...]:
    """What the readers raise for a file they cannot read: bad input. Anything else is a bug and propagates."""
    import xml.etree.ElementTree as ET

    import pyarrow as pa
    import pyogrio.errors

    return (OSError, ValueError, UnicodeError, csv.Error, pa.ArrowException, pd.errors.ParserError,
            zipfile.BadZipFile, ET.ParseError, KeyError,
            pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.CRSError, pyogrio.errors.GeometryError, pyogrio.errors.FeatureError)


# ---- CSV --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CsvDialect:
    """What was detected about a CSV file: its delimiter, encoding, header names, whether quotes occur, and its
    first few rows split into fields (for recognising formats by their shape)."""

    delimiter: str
    encoding: str
    names: tuple[str, ...]
    quoted: bool
    rows: tuple[tuple[str, ...], ...] = ()


def _open_csv(path: Path):
    """A binary stream of the CSV text in ``path`` (decompressing ``.gz``; the one CSV inside a ``.zip``)."""
    import pyarrow as pa

    kind = _kind(path)
    if kind == "csv.gz":
        return pa.input_stream(str(path), compression="gzip")
    if kind == "zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")
                   and Path(m.filename).suffix.lower() in CSV_SUFFIXES]
        if len(members) != 1:
            listed = ", ".join(m.filename for m in archive.infolist()[:5]) or "nothing"
            raise InputError(f"a ZIP file must hold exactly one CSV file; this one holds {listed}", file=str(path))
        return archive.open(members[0])
    return pa.input_stream(str(path))


def sniff_csv(path: Path, *, header: bool = True) -> CsvDialect:
    """Detect the delimiter (:data:`DELIMITERS`), the encoding (UTF-8, else Windows-1252) and the header names
    from the first 64 KiB of a CSV file."""
    with _open_csv(path) as stream:
        sample = stream.read(_SNIFF_BYTES)
    if sample.startswith(b"\xef\xbb\xbf"):
        sample = sample[3:]
    complete = sample[: sample.rfind(b"\n") + 1] if len(sample) == _SNIFF_BYTES and b"\n" in sample else sample
    try:
        text, encoding = complete.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = complete.decode("cp1252", errors="replace"), "cp1252"
    lines = [line for line in text.splitlines()[:6] if line.strip()]
    delimiter = _delimiter(lines, prefer_tab=path.suffix.lower() == ".tsv")
    rows = tuple(tuple(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    names = tuple(n.strip() for n in rows[0]) if rows and header else ()
    return CsvDialect(delimiter, encoding, names, b'"' in sample, rows)


def _delimiter(lines: list[str], *, prefer_tab: bool) -> str:
    """The delimiter splitting the lines into the most fields, the same number on each line (ties: the earlier
    in :data:`DELIMITERS`)."""
    best, best_fields = ("\t" if prefer_tab else ","), 1
    for delimiter in DELIMITERS:
        counts = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)}
        fields = max(counts, default=1)
        consistent = len(counts) == 1
        if consistent and fields > best_fields:
            best, best_fields = delimiter, fields
    return best


def read_csv(path: Path, *, header: bool = True, names: Sequence[str] | None = None,
             categorical: Sequence[str] = (), types: Mapping[str, object] | None = None
             ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Read a CSV file (plain, ``.gz`` or in a ``.zip``) with Arrow: every column as text, except ``types``
    (``{column: Arrow type}``) converted in the parallel parse when every value converts (else the file is read
    again all as text, so nothing is lost: the validator quarantines what does not convert, with its text).

    Returns the frame (text columns as Arrow-backed pandas strings, ``categorical`` ones as categoricals; a
    malformed line as a row of missing values with ``raw_line`` and ``line_number``) and notes for people.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    dialect = sniff_csv(path, header=header)
    column_names = list(names) if not header else list(dialect.names)
    if not column_names:
        return pd.DataFrame(), ()
    notes: list[str] = []
    bad: list[tuple[int | None, str, int]] = []

    def malformed(row) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    def read(encoding: str, column_types: Mapping[str, object]) -> pa.Table:
        bad.clear()
        with _open_csv(path) as stream:
            size = path.stat().st_size
            return pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=column_names, skip_rows=1 if header else 0,
                                               encoding=encoding, block_size=8 << 20),
                parse_options=pacsv.ParseOptions(delimiter=dialect.delimiter, invalid_row_handler=malformed,
                                                 newlines_in_values=dialect.quoted or size < _QUOTED_NEWLINES_BELOW),
                convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True,
                                                     null_values=[""]))

    # categorical columns straight into dictionaries (no column of strings); the rest as text unless typed
    dictionary = pa.dictionary(pa.int32(), pa.string())
    text = {n: dictionary if n in categorical else pa.string() for n in column_names}
    column_types = {**text, **{n: t for n, t in (types or {}).items() if n in text}}
    encoding = dialect.encoding
    while True:
        try:
            table = read(encoding, column_types)
            break
        except pa.ArrowInvalid as error:
            message = str(error)
            if encoding == "utf-8" and "UTF8" in message.upper().replace("-", ""):
                encoding = "cp1252"
            elif column_types != text and "conversion error" in message:
                column_types = text  # a value that does not convert: read as written, for the quarantine
            else:
                raise
    if encoding == "cp1252":
        notes.append("the file is not UTF-8; it was read as Windows-1252")
    names, columns = table.column_names, table.columns
    del table  # the columns are ours now: each is freed once converted
    frame = _arrow_to_frame(columns, names, categorical)
    if bad:
        frame = _with_malformed(frame, bad, path, header=header, encoding=encoding)
        notes.append(f"{len(bad):,} line(s) with the wrong number of fields (expected {len(column_names)}) "
                     f"quarantined as malformed_line")
    return frame, tuple(notes)


def _arrow_to_frame(columns: list, names: Sequence[str], categorical: Sequence[str], *,
                    text_as_arrow: bool = True) -> pd.DataFrame:
    """Arrow columns (``columns``, emptied as they are converted, so each one's Arrow memory is freed as soon as
    it is in pandas) as a frame with ``names``: text Arrow-backed (no Python strings; ``text_as_arrow=False``:
    Python strings, as Arrow's table conversion gives them), ``categorical`` text columns and dictionaries as
    categoricals. The columns are converted two at a time (Arrow's conversions release the GIL)."""
    import pyarrow as pa

    string = pd.StringDtype("pyarrow")
    to_text = {pa.string(): string, pa.large_string(): string}.get if text_as_arrow else None

    def convert(i: int) -> pd.Series:
        column, columns[i] = columns[i], None
        if names[i] in categorical and pa.types.is_string(column.type):
            column = column.dictionary_encode()
        return column.to_pandas(types_mapper=to_text)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="to_pandas") as pool:
        converted = list(pool.map(convert, range(len(columns))))
    frame = pd.DataFrame(dict(enumerate(converted)), copy=False)
    frame.columns = list(names)
    pa.default_memory_pool().release_unused()  # the freed Arrow memory back to the system
    return frame


def _with_malformed(frame: pd.DataFrame, bad: list[tuple[int | None, str, int]], path: Path, *, header: bool,
                    encoding: str) -> pd.DataFrame:
    """Add the malformed lines as rows of missing values with ``raw_line`` and ``line_number``, and number every
    row by its place in the file (``source_row``)."""
    numbers = [number for number, _, _ in bad]
    if any(n is None for n in numbers):
        numbers = _line_numbers(path, [text for _, text, _ in bad], encoding)
    lines = np.asarray(numbers, dtype=np.int64)
    data_rows = lines - (1 if header else 0)
    total = len(frame) + len(bad)
    rows = np.arange(1, total + 1)
    if len(np.unique(data_rows)) == len(data_rows) and data_rows.min() >= 1 and data_rows.max() <= total:
        good_rows = np.setdiff1d(rows, data_rows, assume_unique=True)
    else:  # quoted line breaks: line and row numbers differ; keep file order for the good rows
        good_rows, data_rows = rows[: len(frame)], rows[len(frame):]
    extra = frame.iloc[:0].reindex(pd.RangeIndex(len(bad)))  # missing values of each column's own type
    out = pd.concat([frame, extra], ignore_index=True)
    out.insert(0, SOURCE_ROW, np.concatenate([good_rows, data_rows]))
    out[LINE_NUMBER] = pd.array([pd.NA] * len(frame) + list(lines), dtype="Int64")
    out[RAW_LINE] = pd.array([pd.NA] * len(frame) + [text for _, text, _ in bad], dtype="string")
    return out


def _line_numbers(path: Path, texts: list[str], encoding: str) -> list[int]:
    """The physical line numbers (1-based) of the given lines, found by scanning the file (only done when
    Arrow's multithreaded reader could not say)."""
    wanted: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        wanted.setdefault(text.rstrip("\r\n"), []).append(i)
    found = [0] * len(texts)
    with _open_csv(path) as stream, io.TextIOWrapper(stream, encoding=encoding, errors="replace",
                                                      newline="") as handle:
        for number, line in enumerate(handle, start=1):
            slots = wanted.get(line.rstrip("\r\n").lstrip("\ufeff"))
            if slots:
                found[slots.pop(0)] = number
                if not slots:
                    del wanted[line.rstrip("\r\n").lstrip("\ufeff")]
                if not wanted:
                    break
    return found


# ---- other formats ----------------------------------------------------------------------------------------------

def _read_parquet(path: Path, column_map: Mapping[str, str], columns: Sequence[str] | None,
                  categorical: Sequence[str]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    metadata = schema.metadata or {}
    if b"geo" in metadata:
        import geopandas as gpd

        gdf = gpd.read_parquet(path)
        return _points_to_xy(gdf), _crs_text(gdf.crs)
    reverse = {ours: theirs for theirs, ours in column_map.items()}
    wanted = None
    if columns is not None:
        keep = [*columns, ORIGINAL_ROW]
        wanted = [reverse.get(c, c) for c in keep if reverse.get(c, c) in schema.names]
    dictionary = [reverse.get(c, c) for c in categorical if reverse.get(c, c) in schema.names]
    table = pq.read_table(path, columns=wanted, read_dictionary=dictionary or None)
    if b"pandas" in metadata:  # written by pandas: its metadata restores index columns and extension dtypes
        # column by column, freeing Arrow's copy as it goes, then giving the freed memory back to the system
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        pa.default_memory_pool().release_unused()
    else:  # two columns at a time, as Arrow's own table conversion would make each of them
        names, columns = table.column_names, table.columns
        del table
        frame = _arrow_to_frame(columns, names, (), text_as_arrow=False)
    crs = metadata[CRS_METADATA].decode() if CRS_METADATA in metadata else None
    return frame, crs


def _read_geo(path: Path):
    """A GeoPackage or GeoJSON file's first layer; point geometry becomes ``x``/``y`` in the file's CRS, which is
    checked against the coordinates (a declared CRS they cannot be in is an error, not a wrong map)."""
    import geopandas as gpd

    gdf = gpd.read_file(path, engine="pyogrio")
    frame = _points_to_xy(gdf)
    crs = _crs_text(gdf.crs)
    if crs is not None:
        check_declared_crs(frame["x"].to_numpy(float), frame["y"].to_numpy(float), crs, str(path))
    return frame, crs


def check_declared_crs(x: np.ndarray, y: np.ndarray, crs: str, file: str) -> None:
    """Stop when coordinates cannot be in the CRS their file declares: metres of a projected CRS that all look
    like degrees, degrees beyond ±180/±90, or points far outside the CRS's area of use.

    Raises:
        InputError: naming the file, the declared CRS and what the coordinates look like.
    """
    import pyproj

    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return
    x, y = x[finite], y[finite]
    parsed = pyproj.CRS.from_user_input(crs)
    degrees_like = (np.abs(x) <= 180).all() and (np.abs(y) <= 90).all()
    if parsed.is_projected and degrees_like and (np.ptp(x) < 20 and np.ptp(y) < 20):
        raise InputError(f"the file declares {crs} (metres) but its coordinates look like degrees "
                         f"(x {x.min():.4g} to {x.max():.4g}, y {y.min():.4g} to {y.max():.4g}); "
                         f"give the right CRS with --trails-crs or fix the file", file=file, column="geometry")
    if parsed.is_geographic and not degrees_like:
        raise InputError(f"the file declares {crs} (degrees) but its coordinates are not degrees "
                         f"(x {x.min():.4g} to {x.max():.4g}, y {y.min():.4g} to {y.max():.4g})", file=file,
                         column="geometry")
    area = parsed.area_of_use
    if area is None or parsed.is_geographic:
        return
    from geomatch.core.crs import WGS84, transform

    lon, lat = transform(x, y, crs, WGS84)
    west, south, east, north = area.bounds
    margin = 5.0
    outside = ~np.isfinite(lon) | (lon < west - margin) | (lon > east + margin) | (lat < south - margin) | (
        lat > north + margin)
    if outside.mean() > 0.5:
        raise InputError(f"the file declares {crs} but most of its coordinates lie far outside where that CRS is "
                         f"used ({area.name}); give the right CRS with --trails-crs or fix the file", file=file,
                         column="geometry")


def _points_to_xy(gdf) -> pd.DataFrame:
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geometry = gdf.geometry
    is_point = geometry.geom_type == "Point"
    frame["x"] = geometry.x.where(is_point) if len(gdf) else pd.Series(dtype=float)
    frame["y"] = geometry.y.where(is_point) if len(gdf) else pd.Series(dtype=float)
    return frame


def _crs_text(crs) -> str | None:
    """A file's CRS as text; ``None`` when it declares none (also a GeoPackage's undefined SRS, ids -1 and 0,
    which read as an engineering CRS tied to nothing on Earth)."""
    if crs is None or crs.is_engineering:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def _read_xlsx(path: Path) -> pd.DataFrame:
    """The first sheet of an Excel workbook, every cell as text (dates as ``YYYY-MM-DD HH:MM:SS``, local time
    since Excel stores no time zone); empty rows dropped (``source_row`` still counts them)."""
    frame = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False, na_values=[""], engine="openpyxl")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.astype(pd.StringDtype("pyarrow"))
    frame.insert(0, SOURCE_ROW, np.arange(1, len(frame) + 1))  # the sheet's data rows, blank ones counted
    return frame.dropna(how="all", subset=[c for c in frame.columns if c != SOURCE_ROW])


def read_gpx(path: Path, *, subject: str = "track") -> tuple[pd.DataFrame, str]:
    """The track points of a GPX file: ``subject_id``, ``timestamp`` (the ``<time>`` text), ``lat``, ``lon``,
    and ``track`` and ``segment`` numbers; WGS84.

    Args:
        subject: ``track``: each track is a subject named by its ``<name>`` (else ``<file stem>-<n>``);
            ``file``: the whole file is one subject named by the file's stem; anything else names the subject.
    """
    from xml.etree.ElementTree import iterparse

    rows: dict[str, list] = {"subject_id": [], "timestamp": [], "lat": [], "lon": [], "track": [], "segment": []}
    track, segment, name = 0, 0, None
    point: dict[str, str | None] | None = None
    for event, element in iterparse(path, events=("start", "end")):
        tag = element.tag.rsplit("}", 1)[-1]
        if event == "start":
            if tag == "trk":
                track, segment, name = track + 1, 0, None
            elif tag == "trkseg":
                segment += 1
            elif tag == "trkpt":
                point = {"lat": element.get("lat"), "lon": element.get("lon"), "time": None}
            continue
        if tag == "name" and point is None and track and name is None:
            name = (element.text or "").strip() or None
        elif tag == "time" and point is not None:
            point["time"] = (element.text or "").strip() or None
        elif tag == "trkpt" and point is not None:
            who = (name or f"{path.stem}-{track}") if subject == "track" else path.stem if subject == "file" \
                else subject
            for key, value in (("subject_id", who), ("timestamp", point["time"]), ("lat", point["lat"]),
                               ("lon", point["lon"]), ("track", track), ("segment", segment)):
                rows[key].append(value)
            point = None
            element.clear()
    frame = pd.DataFrame(rows)
    for column in ("subject_id", "timestamp", "lat", "lon"):
        frame[column] = frame[column].astype(pd.StringDtype("pyarrow"))
    return frame, "EPSG:4326"


# ---- checks and conversions shared by the validators -------------------------------------------------------------

def require_columns(table: RawTable, required: Sequence[str], *, any_of: Sequence[Sequence[str]] = ()) -> None:
    """Stop with an :class:`InputError` naming the file and the first missing column.

    Args:
        required: columns that must all be present.
        any_of: groups of columns of which at least one complete group must be present (for example
            ``[("easting", "northing"), ("lat", "lon")]``); the error names the first group's missing column.
    """
    present = set(table.frame.columns)
    for column in required:
        if column not in present:
            raise InputError(f"required column is missing{_columns_seen(table)}", file=str(table.path),
                             column=column)
    if any_of and not any(all(c in present for c in group) for group in any_of):
        first = next(c for c in any_of[0] if c not in present)
        alternatives = " or ".join("/".join(group) for group in any_of)
        raise InputError(f"required column is missing (give {alternatives}){_columns_seen(table)}",
                         file=str(table.path), column=first)


def _columns_seen(table: RawTable) -> str:
    names = [str(c) for c in table.frame.columns if c not in (SOURCE_ROW, SOURCE_FILE, RAW_LINE, LINE_NUMBER)]
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f" (the file has: {shown})" if names else " (the file has no columns)"


def arrow_text(values: pd.Series):
    """The Arrow array behind Arrow-backed text (as :func:`read_csv` gives), else ``None``."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow" or (
            isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_string(values.dtype.pyarrow_dtype)):
        return values.array.__arrow_array__()  # a (chunked) Arrow array, shared, not copied
    return None


_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def to_number(values: pd.Series) -> pd.Series:
    """Text or numbers as float64; anything unreadable (or not finite) becomes NaN (the caller quarantines it).

    Arrow-backed text is converted in Arrow: one cast when every value is a number, else a pattern check first.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype == np.float64:  # typed already (Arrow converted it while reading): no copy when all finite
        array = values.to_numpy()
        finite = np.isfinite(array)
        return values if finite.all() else values.where(finite)
    text = arrow_text(values)
    if text is None:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    else:
        try:
            cast = pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            readable = pc.match_substring_regex(text, _NUMBER)
            cast = pc.cast(pc.utf8_trim_whitespace(pc.if_else(readable, text, pa.scalar(None, text.type))),
                           pa.float64())
        numbers = pd.Series(cast.to_numpy(zero_copy_only=False), index=values.index, dtype="float64")
    return numbers.where(np.isfinite(numbers))


def tidy_categorical(values: pd.Series, *, upper: bool = False) -> pd.Series:
    """Text as a categorical with surrounding blanks stripped (and upper-cased if asked); blank becomes NA.

    Works on the categories, not the rows, so it costs little on millions of rows of repeated text.
    """
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("string").astype("category")
    labels = pd.Index(cat.cat.categories.astype(str)).str.strip()
    if upper:
        labels = labels.str.upper()
    kept = pd.Index(sorted(set(labels) - {""}))
    codes = cat.cat.codes.to_numpy()
    if not (len(kept) == len(labels) and (kept == labels).all()):  # else tidy and sorted already: codes kept
        remap = np.append(kept.get_indexer(labels), -1).astype(codes.dtype)  # code -1 (missing) stays missing
        codes = remap[codes]
    return pd.Series(pd.Categorical.from_codes(codes, categories=kept, validate=False), index=values.index,
                     name=values.name)


def read_toml(path: Path | str) -> dict:
    """A TOML settings file as a mapping; an unreadable or malformed file is an :class:`InputError`."""
    import tomllib

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"the settings file could not be read ({error})".replace("\n", " "), file=str(path)) from error
