"""Reading and validating V-VOL input: a crimes table and an involvements (people) table.

Both go through the shared readers and quarantine (:mod:`geomatch.core.tables`, :mod:`geomatch.core.quarantine`), the shared
time parser (naive times are Europe/London) and the shared location rules and WGS84 -> British National Grid
transformation of the spatial core (:mod:`geomatch.ingest.crimes`, :mod:`geomatch.core.crs`). Every row read is accepted or
quarantined with a reason code.

Crimes: ``crime_ref``, ``offence`` (Home Office code, harm-table key or alias), ``committed_from`` (and optionally
``committed_to``) or ``date``, ``easting``/``northing`` or ``lat``/``lon``; optional ``premises_id`` (or ``uprn``),
``area`` and flag columns (``domestic`` ...). A police.uk street-level CSV is recognised and adapted
(:mod:`vvol.policeuk`). People: ``crime_ref``, ``person_id``, ``role`` (``victim``, ``offender``, ``suspect``),
optional flag columns (``vulnerable`` ...).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geomatch.core.locations import geometry_as_columns, point_locations
from geomatch.core.crs import BNG
from geomatch.core.errors import InputError
from geomatch.core.quarantine import SOURCE_ROW, RowChecks, Validated
from geomatch.core.tables import RawTable, read_table, require_columns, tidy_categorical
from geomatch.core.times import parse_times
from vvol.harm import HarmTable
from vvol.policeuk import from_street_csv, is_street_csv

log = logging.getLogger(__name__)

ROLES = ("victim", "offender", "suspect")
TRUE_TEXT = {"1", "true", "t", "yes", "y"}
LOCATION_GROUPS = [("easting", "northing"), ("lat", "lon")]


def flag_column(name: str) -> str:
    """Name of the boolean column that carries input flag ``name`` in accepted rows."""
    return f"flag_{name}"


def _truthy(values: pd.Series) -> np.ndarray:
    """Flag text (``1``, ``true``, ``yes``, ``y``, ``t``, any case) or booleans as a boolean array."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.fillna(False).to_numpy(bool)
    cat = values.astype("category")
    hits = np.append(pd.Index(cat.cat.categories.astype(str)).str.strip().str.lower().isin(TRUE_TEXT), False)
    return hits[cat.cat.codes.to_numpy()]


def load_crimes(path: Path | str, harm: HarmTable, *, flags: Iterable[str] = (),
                column_map: Mapping[str, str] | None = None) -> Validated:
    """Read and validate a crimes file (project table or police.uk street CSV); see :func:`validate_crimes`."""
    table = read_table(path, column_map=column_map, categorical=["offence", "premises_id", "uprn", "area",
                                                                  *flags])
    if is_street_csv(table.frame):
        table = from_street_csv(table)
    return validate_crimes(table, harm, flags=flags)


def validate_crimes(table: RawTable, harm: HarmTable, *, flags: Iterable[str] = ()) -> Validated:
    """Validate raw crime rows.

    Accepted rows, sorted by ``crime_ref``: ``crime_ref``, ``offence`` (harm-table key, categorical), ``harm``
    (harm points), ``t`` (``committed_from``, or ``date``, as UTC), ``x``/``y`` (metres, EPSG:27700),
    ``premises_id``, ``area`` (categoricals), one ``flag_<name>`` boolean per flag column present, ``source_row``.

    Reason codes: ``missing_crime_ref``, ``unknown_offence``, ``unparseable_committed_from``,
    ``unparseable_committed_to``, ``reversed_window``, the location codes of :mod:`geomatch.core.locations`
    (``missing_location``, ``both_location_kinds``, ``zero_zero``, ``lat_lon_swapped``,
    ``out_of_range_coordinates``), ``duplicate_row`` and ``duplicate_crime_ref_conflict``.

    Raises:
        InputError: a required column is missing.
    """
    table = geometry_as_columns(table)
    raw = table.frame
    if "premises_id" not in raw and "uprn" in raw:
        raw = raw.rename(columns={"uprn": "premises_id"})
    require_columns(table, ["crime_ref", "offence"], any_of=LOCATION_GROUPS)
    time_column = "committed_from" if "committed_from" in raw else "date" if "date" in raw else None
    if time_column is None:
        raise InputError("required column is missing (give committed_from or date)", file=str(table.path),
                         column="committed_from")
    checks = RowChecks(raw)
    crime_ref = raw["crime_ref"].astype("string").str.strip()
    checks.add("missing_crime_ref", crime_ref.isna() | (crime_ref == ""))
    offence, weight = harm.resolve(raw["offence"])
    checks.add("unknown_offence", offence.isna())
    start = parse_times(raw[time_column], side="start")
    checks.add("unparseable_committed_from", start.unparseable)
    if "committed_to" in raw:
        given = raw["committed_to"].notna().to_numpy()
        end = parse_times(raw["committed_to"], side="end")
        checks.add("unparseable_committed_to", end.unparseable & given)
        checks.add("reversed_window", (end.utc < start.utc).to_numpy())
    x, y, _, _ = point_locations(raw, checks, BNG)
    optional = {name: tidy_categorical(raw[name]) if name in raw else pd.Categorical([None] * len(raw))
                for name in ("premises_id", "area")}
    cleaned = pd.DataFrame({
        "crime_ref": crime_ref,
        "offence": offence.astype("category"),
        "harm": weight,
        "t": start.utc,
        "x": x, "y": y,
        **{name: pd.Series(values, index=raw.index) for name, values in optional.items()},
        **{flag_column(f): _truthy(raw[f]) for f in sorted(set(flags)) if f in raw},
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    }, index=raw.index)
    checks.add_duplicate_keys(cleaned, "crime_ref")
    validated = checks.split("crimes", str(table.path), cleaned)
    accepted = validated.accepted.sort_values("crime_ref", kind="stable").reset_index(drop=True)
    log.info("crimes %s: %s", table.path, validated.counts())
    return Validated(validated.name, validated.source, accepted, validated.quarantined, validated.rows_in)


def load_people(path: Path | str, crime_refs: pd.Series, *, flags: Iterable[str] = (),
                column_map: Mapping[str, str] | None = None) -> Validated:
    """Read and validate an involvements file; see :func:`validate_people`."""
    table = read_table(path, column_map=column_map, categorical=["role", *flags])
    return validate_people(table, crime_refs, flags=flags)


def validate_people(table: RawTable, crime_refs: pd.Series, *, flags: Iterable[str] = ()) -> Validated:
    """Validate involvement rows against the accepted crimes.

    Accepted rows: ``crime_ref``, ``person_id`` (text), ``role`` (``victim``/``offender``/``suspect``,
    categorical), one ``flag_<name>`` boolean per flag column present, ``source_row``.

    Reason codes: ``missing_crime_ref``, ``missing_person_id``, ``unknown_role``, ``unknown_crime_ref`` (no accepted
    crime has that reference, including crimes that were quarantined), ``duplicate_involvement`` (the same person
    in the same role on the same crime again; the first is kept).

    Raises:
        InputError: a required column is missing.
    """
    raw = table.frame
    require_columns(table, ["crime_ref", "person_id", "role"])
    checks = RowChecks(raw)
    crime_ref = raw["crime_ref"].astype("string").str.strip()
    person = raw["person_id"].astype("string").str.strip()
    role = _roles(raw["role"])
    checks.add("missing_crime_ref", crime_ref.isna() | (crime_ref == ""))
    checks.add("missing_person_id", person.isna() | (person == ""))
    checks.add("unknown_role", role.isna())
    checks.add("unknown_crime_ref", crime_ref.notna().to_numpy() & ~_isin(crime_ref, crime_refs))
    cleaned = pd.DataFrame({
        "crime_ref": crime_ref,
        "person_id": person,
        "role": role,
        **{flag_column(f): _truthy(raw[f]) for f in sorted(set(flags)) if f in raw},
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
    }, index=raw.index)
    repeat = cleaned.duplicated(["crime_ref", "person_id", "role"], keep="first").to_numpy()
    checks.add("duplicate_involvement", repeat & person.notna().to_numpy() & crime_ref.notna().to_numpy())
    validated = checks.split("people", str(table.path), cleaned)
    log.info("people %s: %s", table.path, validated.counts())
    return validated


def _isin(values: pd.Series, allowed: pd.Series) -> np.ndarray:
    """``values.isin(allowed)`` for text, hashed in Arrow (pandas' own is a Python loop for Arrow strings)."""
    found = pc.is_in(pa.array(values.astype(object), type=pa.string()),
                     value_set=pa.array(allowed.astype(object), type=pa.string()))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _roles(values: pd.Series) -> pd.Series:
    """Role text (any case, blanks around) as a categorical of :data:`ROLES`; anything else is NA."""
    cat = values.astype("category")
    known = pd.Index(ROLES).get_indexer(cat.cat.categories.astype(str).str.strip().str.lower())
    codes = np.append(known, -1)[cat.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(codes, categories=ROLES), index=values.index)
