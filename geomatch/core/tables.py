"""Reading input tables (CSV, Parquet, GeoParquet, GeoPackage), shared by ``geomatch`` and ``vvol``.

Every reader returns a plain DataFrame with the file's columns (renamed through an optional column map) and a
``source_row`` column (1-based data row number), so validation can quarantine rows with their original values.
Point geometries from GeoParquet or GeoPackage become ``x``/``y`` columns plus the file's CRS.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from geomatch.core.errors import InputError
from geomatch.core.quarantine import SOURCE_ROW

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
GPKG_SUFFIXES = {".gpkg"}
COMPRESSED_SUFFIXES = {".gz", ".bz2", ".xz", ".zst"}


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file: original columns (after the column map) and its CRS if it had geometry."""

    path: Path
    frame: pd.DataFrame
    crs: str | None = None


def read_table(path: Path | str, *, column_map: Mapping[str, str] | None = None, header: bool = True,
               names: Sequence[str] | None = None, columns: Sequence[str] | None = None,
               categorical: Sequence[str] = ()) -> RawTable:
    """Read one input file into a :class:`RawTable`.

    Args:
        path: CSV, Parquet/GeoParquet or GeoPackage file.
        column_map: ``{name in file: name we use}``; unmapped columns keep their names.
        header: CSV only: whether the first line names the columns.
        names: CSV only: column names for a file without a header.
        columns: Parquet only: read just these columns (after mapping back to file names), to save memory.
        categorical: Parquet only: text columns (our names) to read as pandas categoricals, to save memory.

    Raises:
        InputError: the file is missing, unreadable, or in a format we do not read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("the file does not exist or is not a file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in COMPRESSED_SUFFIXES:  # x.csv.gz: pandas decompresses by the file name
        suffix = Path(path.stem).suffix.lower()
    column_map = dict(column_map or {})
    crs = None
    try:
        if suffix in CSV_SUFFIXES:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                header=0 if header else None, names=names, sep=None if suffix == ".tsv" else ",",
                                engine="python" if suffix == ".tsv" else "c", quoting=csv.QUOTE_MINIMAL)
        elif suffix in PARQUET_SUFFIXES:
            frame, crs = _read_parquet(path, column_map, columns, categorical)
        elif suffix in GPKG_SUFFIXES:
            frame, crs = _read_geopackage(path)
        else:
            raise InputError(f"unknown file type '{suffix}' (use CSV, Parquet, GeoParquet or GeoPackage)",
                             file=str(path))
    except InputError:
        raise
    except _reader_errors() as error:  # a file the readers cannot make sense of: bad input, in one sentence
        raise InputError(f"the file could not be read ({type(error).__name__}: {error})".replace("\n", " "),
                         file=str(path)) from error
    frame = frame.rename(columns=column_map)
    frame.insert(0, SOURCE_ROW, pd.RangeIndex(1, len(frame) + 1))
    return RawTable(path=path, frame=frame.reset_index(drop=True), crs=crs)


def _reader_errors() -> tuple[type[BaseException], ...]:
    """What the readers raise for a file they cannot read: bad input. Anything else is a bug and propagates."""
    import pyarrow as pa
    import pyogrio.errors

    return (OSError, ValueError, UnicodeError, csv.Error, pa.ArrowException, pd.errors.ParserError,
            pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.CRSError, pyogrio.errors.GeometryError, pyogrio.errors.FeatureError)


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
        wanted = [reverse.get(c, c) for c in columns if reverse.get(c, c) in schema.names]
    dictionary = [reverse.get(c, c) for c in categorical if reverse.get(c, c) in schema.names]
    table = pq.read_table(path, columns=wanted, read_dictionary=dictionary or None)
    # column by column, freeing Arrow's copy as it goes, then giving the freed memory back to the system
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    pa.default_memory_pool().release_unused()
    return frame, None


def _read_geopackage(path: Path):
    import geopandas as gpd

    gdf = gpd.read_file(path, engine="pyogrio")
    return _points_to_xy(gdf), _crs_text(gdf.crs)


def _points_to_xy(gdf) -> pd.DataFrame:
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geometry = gdf.geometry
    is_point = geometry.geom_type == "Point"
    frame["x"] = geometry.x.where(is_point) if len(gdf) else pd.Series(dtype=float)
    frame["y"] = geometry.y.where(is_point) if len(gdf) else pd.Series(dtype=float)
    return frame


def _crs_text(crs) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


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
            raise InputError("required column is missing", file=str(table.path), column=column)
    if any_of and not any(all(c in present for c in group) for group in any_of):
        first = next(c for c in any_of[0] if c not in present)
        alternatives = " or ".join("/".join(group) for group in any_of)
        raise InputError(f"required column is missing (give {alternatives})", file=str(table.path), column=first)


def to_number(values: pd.Series) -> pd.Series:
    """Text or numbers as float64; anything unreadable becomes NaN (the caller quarantines it)."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def tidy_categorical(values: pd.Series, *, upper: bool = False) -> pd.Series:
    """Text as a categorical with surrounding blanks stripped (and upper-cased if asked); blank becomes NA.

    Works on the categories, not the rows, so it costs little on millions of rows of repeated text.
    """
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("string").astype("category")
    labels = pd.Index(cat.cat.categories.astype(str)).str.strip()
    if upper:
        labels = labels.str.upper()
    kept = pd.Index(sorted(set(labels) - {""}))
    remap = np.append(kept.get_indexer(labels), -1)  # code -1 (missing) stays missing
    codes = remap[cat.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(codes, categories=kept), index=values.index, name=values.name)


def read_toml(path: Path | str) -> dict:
    """A TOML settings file as a mapping; an unreadable or malformed file is an :class:`InputError`."""
    import tomllib

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"the settings file could not be read ({error})".replace("\n", " "), file=str(path)) from error
