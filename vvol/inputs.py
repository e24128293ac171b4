"""Reading and validating V-VOL input: a crimes table and an involvements (people) table.

Both go through the shared readers and quarantine (:mod:`geomatch.core.tables`, :mod:`geomatch.core.quarantine`), the shared
time parser (naive times are Europe/London) and the shared location rules and WGS84 -> British National Grid
transformation of the spatial core (:mod:`geomatch.core.locations`, :mod:`geomatch.core.crs`). Every row read is accepted or
quarantined with a reason code.

Crimes: ``crime_ref``, ``offence`` (Home Office code, harm-table key or alias), ``committed_from`` (and optionally
``committed_to``) or ``date``, ``easting``/``northing`` or ``lat``/``lon``; optional ``premises_id`` (or ``uprn``),
``area``, ``place`` (a name people know) and flag columns (``domestic`` ...). A police.uk street-level CSV is
recognised and adapted (:mod:`vvol.policeuk`). People: ``crime_ref``, ``person_id``, ``role`` (``victim``,
``offender``, ``suspect``), optional flag columns (``vulnerable`` ...).

Each input may be several files, a folder or a glob (:func:`read_inputs_table`); rows keep their file in
``source_file`` and the balance holds per file (:func:`reconcile`).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geomatch.core.locations import geometry_as_columns, point_locations
from geomatch.core.crs import BNG
from geomatch.core.errors import InputError
from geomatch.core.quarantine import REASON, SOURCE_ROW, RowChecks, Validated
from geomatch.core.tables import RawTable, input_files, read_table, require_columns, tidy_categorical
from geomatch.core.times import latest_credible_ns, parse_times, utc_ns
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


Paths = Union[Path, str, Sequence[Union[Path, str]]]
"""One input or several: files, folders (every table file in it) and glob patterns, in any mix."""

SOURCE_FILE = "source_file"
"""Column on every row read through :func:`read_inputs_table`: the file it came from (as given or expanded)."""


def expand_paths(paths: Paths) -> list[Path]:
    """The files named by ``paths`` (files, folders, glob patterns), expanded by the core's one rule
    (:func:`geomatch.core.tables.input_files`: every readable table format, sorted, so the order is deterministic).

    Raises:
        InputError: a folder or pattern that names no table file, or no input at all.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError("no input file was given")
    return input_files(items)


def read_inputs_table(paths: Paths, *, column_map: Mapping[str, str] | None = None,
                      categorical: Sequence[str] = (),
                      adapt: Callable[[RawTable], RawTable] | None = None) -> tuple[RawTable, pd.DataFrame]:
    """Read one or several files with :func:`geomatch.core.tables.read_table` and stack them.

    Each file is read (and passed through ``adapt`` when given, e.g. the police.uk adapter) on its own; rows keep
    their file's ``source_row`` and gain ``source_file``. Every file must have the columns of the first.

    Returns:
        The stacked table (its ``path`` is the single file, or the common folder of several) and one row per file:
        ``source_file``, ``rows_in``.

    Raises:
        InputError: a file is unreadable, or lacks a column the first file has.
    """
    files = expand_paths(paths)
    tables = []
    for path in files:
        table = read_table(path, column_map=column_map, categorical=categorical)
        if adapt is not None:
            table = adapt(table)
        if tables:
            missing = [c for c in tables[0].frame.columns if c not in table.frame.columns and c != SOURCE_FILE]
            if missing:
                raise InputError(f"the column is missing (the first file, {tables[0].path.name}, has it)",
                                 file=str(path), column=str(missing[0]))
        table.frame[SOURCE_FILE] = pd.Categorical.from_codes(np.full(len(table.frame), len(tables), np.int32),
                                                             categories=[str(p) for p in files])
        tables.append(table)
    per_file = pd.DataFrame({SOURCE_FILE: [str(p) for p in files], "rows_in": [len(t.frame) for t in tables]})
    if len(tables) == 1:
        return tables[0], per_file
    frame = pd.concat([t.frame for t in tables], ignore_index=True)
    for name in categorical:
        if name in frame and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype("category")
    folder = Path(os.path.commonpath([str(p.parent.resolve()) for p in files]))
    return RawTable(path=folder, frame=frame, crs=tables[0].crs), per_file


def reconcile(validated: Validated, per_file: pd.DataFrame) -> pd.DataFrame:
    """Rows in = accepted + quarantined, per file and in total (last row ``total``); ``ok`` says it holds."""
    accepted = validated.accepted[SOURCE_FILE].astype(str).value_counts() if len(validated.accepted) else pd.Series()
    quarantined = (validated.quarantined[SOURCE_FILE].astype(str).value_counts() if len(validated.quarantined)
                   else pd.Series(dtype=int))
    out = per_file.copy()
    out["accepted"] = out[SOURCE_FILE].map(accepted).fillna(0).astype(int)
    out["quarantined"] = out[SOURCE_FILE].map(quarantined).fillna(0).astype(int)
    total = pd.DataFrame({SOURCE_FILE: ["total"], "rows_in": [out["rows_in"].sum()],
                          "accepted": [len(validated.accepted)], "quarantined": [len(validated.quarantined)]})
    out = pd.concat([out, total], ignore_index=True)
    out["ok"] = out["rows_in"] == out["accepted"] + out["quarantined"]
    return out


def _adapt_police_uk(table: RawTable) -> RawTable:
    return from_street_csv(table) if is_street_csv(table.frame) else table


def load_crimes(paths: Paths, harm: HarmTable, *, flags: Iterable[str] = (),
                column_map: Mapping[str, str] | None = None) -> Validated:
    """Read and validate crimes files (project tables or police.uk street CSVs); see :func:`validate_crimes`.
    :func:`load_crimes_files` also gives the per-file balance."""
    return load_crimes_files(paths, harm, flags=flags, column_map=column_map)[0]


def load_crimes_files(paths: Paths, harm: HarmTable, *, flags: Iterable[str] = (),
                      column_map: Mapping[str, str] | None = None) -> tuple[Validated, pd.DataFrame]:
    """:func:`load_crimes` and the per-file reconciliation of :func:`reconcile`."""
    table, per_file = read_inputs_table(paths, column_map=column_map, adapt=_adapt_police_uk,
                                        categorical=["offence", "premises_id", "uprn", "area", "place", *flags])
    validated = validate_crimes(table, harm, flags=flags)
    return validated, reconcile(validated, per_file)


def validate_crimes(table: RawTable, harm: HarmTable, *, flags: Iterable[str] = ()) -> Validated:
    """Validate raw crime rows.

    Accepted rows, sorted by ``crime_ref``: ``crime_ref``, ``offence`` (harm-table key, categorical), ``harm``
    (harm points), ``t`` (``committed_from``, or ``date``, as UTC), ``x``/``y`` (metres, EPSG:27700),
    ``premises_id``, ``area``, ``place`` (categoricals), one ``flag_<name>`` boolean per flag column present,
    ``source_row`` (and ``source_file``).

    Reason codes: ``missing_crime_ref``, ``unknown_offence``, ``unparseable_committed_from``,
    ``unparseable_committed_to``, ``reversed_window``, :data:`COMMITTED_IN_FUTURE`, the location codes of :mod:`geomatch.core.locations`
    (``missing_location``, ``both_location_kinds``, ``zero_zero``, ``lat_lon_swapped``,
    ``out_of_range_coordinates``), ``duplicate_row`` and ``repeated_crime_ref_not_kept`` (see
    :func:`_repeated_crime_refs`; those rows carry ``kept_copy`` in the quarantine).

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
    checks.add(COMMITTED_IN_FUTURE, ~start.unparseable & (utc_ns(start.utc) > latest_credible_ns()))
    if "committed_to" in raw:
        given = raw["committed_to"].notna().to_numpy()
        end = parse_times(raw["committed_to"], side="end")
        checks.add("unparseable_committed_to", end.unparseable & given)
        checks.add("reversed_window", (end.utc < start.utc).to_numpy())
    x, y, _, _ = point_locations(raw, checks, BNG)
    optional = {name: tidy_categorical(raw[name]) if name in raw else pd.Categorical([None] * len(raw))
                for name in ("premises_id", "area", "place")}
    cleaned = pd.DataFrame({
        "crime_ref": crime_ref,
        "offence": offence.astype("category"),
        "harm": weight,
        "t": start.utc,
        "x": x, "y": y,
        **{name: pd.Series(values, index=raw.index) for name, values in optional.items()},
        **{flag_column(f): _truthy(raw[f]) for f in sorted(set(flags)) if f in raw},
        SOURCE_ROW: raw[SOURCE_ROW].to_numpy(),
        **({SOURCE_FILE: raw[SOURCE_FILE].to_numpy()} if SOURCE_FILE in raw else {}),
    }, index=raw.index)
    kept_copy = _repeated_crime_refs(checks, cleaned)
    validated = checks.split("crimes", str(table.path), cleaned)
    accepted = validated.accepted.sort_values("crime_ref", kind="stable").reset_index(drop=True)
    quarantined = validated.quarantined
    if len(kept_copy):
        ref = quarantined["crime_ref"].astype("string").str.strip()
        quarantined = quarantined.assign(kept_copy=ref.map(kept_copy).where(
            quarantined[REASON].str.contains(REPEAT_NOT_KEPT, regex=False), ""))
    log.info("crimes %s: %s", table.path, validated.counts())
    return Validated(validated.name, validated.source, accepted, quarantined, validated.rows_in,
                     per_file=validated.per_file)


COMMITTED_IN_FUTURE = "committed_in_future"
"""Reason code of a crime whose time lies more than a day after now (a mistyped year, a clock set wrong): never a
crime of any window, so it is set aside with its reason rather than left out of every list unsaid."""

REPEAT_NOT_KEPT = "repeated_crime_ref_not_kept"
"""Reason code of the other copies of a repeated crime reference whose copies differ (one copy is kept)."""


def _repeated_crime_refs(checks: RowChecks, cleaned: pd.DataFrame) -> pd.Series:
    """The rule for a ``crime_ref`` that appears more than once (police.uk repeats about 1 % of its Crime IDs
    within a month, most with a different map point or crime type).

    - An exact copy (same content, ``source_row`` and ``source_file`` aside) is a ``duplicate_row``; the first is
      kept.
    - Copies that differ are one crime recorded twice, so exactly one is kept, chosen by a stated rule: the
      highest harm (the principal-crime rule of the Home Office Counting Rules), then the earliest time, then
      the first in input order (file order, then row). The others are quarantined as
      :data:`REPEAT_NOT_KEPT` with a ``kept_copy`` column naming the kept row (``file:row``); no crime is lost.

    Returns:
        ``crime_ref`` -> the kept copy as ``file:row``, for the repeated references with differing copies.
    """
    keys = cleaned["crime_ref"]
    repeated = keys.duplicated(keep=False).to_numpy() & keys.notna().to_numpy() & ~checks.bad
    if not repeated.any():
        return pd.Series(dtype=object)
    content = cleaned.drop(columns=[SOURCE_ROW, SOURCE_FILE], errors="ignore")
    exact_repeat = content.duplicated(keep="first").to_numpy() & repeated
    checks.add("duplicate_row", exact_repeat)
    candidates = cleaned.loc[repeated & ~exact_repeat]
    order = candidates.assign(_harm=-candidates["harm"], _pos=np.flatnonzero(repeated & ~exact_repeat)) \
        .sort_values(["crime_ref", "_harm", "t", "_pos"], kind="stable")
    first = ~order["crime_ref"].duplicated(keep="first")
    not_kept = np.zeros(len(cleaned), bool)
    not_kept[order.loc[~first.to_numpy(), "_pos"].to_numpy()] = True
    checks.add(REPEAT_NOT_KEPT, not_kept)
    kept = order.loc[first.to_numpy() & order["crime_ref"].duplicated(keep=False).to_numpy()]
    where = (kept[SOURCE_FILE].astype(str).map(lambda f: Path(f).name) + ":" if SOURCE_FILE in kept
             else pd.Series("row ", index=kept.index)) + kept[SOURCE_ROW].astype(str)
    return pd.Series(where.to_numpy(), index=kept["crime_ref"].to_numpy())


def load_people(paths: Paths, crime_refs: pd.Series, *, flags: Iterable[str] = (),
                column_map: Mapping[str, str] | None = None) -> Validated:
    """Read and validate involvements files; see :func:`validate_people`."""
    return load_people_files(paths, crime_refs, flags=flags, column_map=column_map)[0]


def load_people_files(paths: Paths, crime_refs: pd.Series, *, flags: Iterable[str] = (),
                      column_map: Mapping[str, str] | None = None) -> tuple[Validated, pd.DataFrame]:
    """:func:`load_people` and the per-file reconciliation of :func:`reconcile`."""
    table, per_file = read_inputs_table(paths, column_map=column_map, categorical=["role", *flags])
    validated = validate_people(table, crime_refs, flags=flags)
    return validated, reconcile(validated, per_file)


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
        **({SOURCE_FILE: raw[SOURCE_FILE].to_numpy()} if SOURCE_FILE in raw else {}),
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
