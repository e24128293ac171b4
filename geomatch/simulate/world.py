"""A seeded synthetic world for trying the engine: tagged subjects' GPS trails, crimes, and the ground truth.

``simulate_world`` draws a town near Ipswich (British National Grid), subjects with homes, work, shops and
leisure places, their movements (walking 1.2-1.6 m/s, driving 8-15 m/s, along streets), GPS fixes every
``fix_interval_s`` with realistic accuracy, noise, fallback fixes and gaps, and a few hundred crimes a week:
most by untagged people, some by the offenders among the subjects, and innocent coincidences planted on purpose
(a crime next door, on a daily route, driven past, near a shop or workplace the subject is at). Crimes are
recorded with a geocoding error (10-40 m typical) from their true place, which the truth keeps. ``write_world``
writes the files the engine reads plus ``truth/``. Same arguments, same bytes: every random draw comes from
generators seeded with ``seed`` and every output is sorted.

Modules: :mod:`geomatch.simulate.town` (streets, addresses, routes), :mod:`geomatch.simulate.plans` (subjects
and their movements), :mod:`geomatch.simulate.crimes` (windows, offenders' crimes, planted coincidences).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy.signal import lfilter
from tqdm import tqdm

from geomatch.core.crs import BNG, WGS84, transform
from geomatch.core.errors import InputError
from geomatch.core.times import UK_TZ
from geomatch.ingest.trails import SOURCES
from geomatch.simulate.crimes import (CrimeDraft, autumn_changes, background_rate_per_day, free_text, geocode_error,
                                      plant_background, plant_clock_change, plant_committed, plant_innocent)
from geomatch.simulate.dirty import plant_dirty
from geomatch.simulate.model import Truth, World
from geomatch.simulate.plans import Plan, Stay, build_plan, local_to_utc, make_subjects
from geomatch.simulate.town import Town, build_town, ward_of

log = logging.getLogger(__name__)

FORCE = "Suffolk"
REF_PREFIX = "SF"
MOJ_CODES = {  # taxonomy key -> MoJ crime-mapping code and description (vehicle interference has no code)
    "robbery_personal": ("RB", "Robbery"), "robbery_business": ("RB", "Robbery"),
    "burglary_residential": ("BIAD", "Burglary in a dwelling"), "aggravated_burglary": ("AB", "Aggravated burglary"),
    "burglary_business": ("BOTD", "Burglary other than a dwelling"),
    "theft_of_vehicle": ("TOMV", "Theft of a motor vehicle"),
    "aggravated_vehicle_taking": ("TOMV", "Theft of a motor vehicle"),
    "theft_from_vehicle": ("TFMV", "Theft from a motor vehicle"), "theft_from_person": ("TFP", "Theft from the person"),
}
TRAIL_COLUMNS = ["subject_id", "timestamp", "lat", "lon", "accuracy_m", "source"]
CRIME_COLUMNS = ["crime_ref", "offence", "easting", "northing", "committed_from", "committed_to", "area", "free_text"]
SIGMA_PER_ACCURACY = 1.0 / 1.51  # accuracy_m is the 68 % radius: 2-D normal noise with sigma = accuracy / 1.51


@dataclass(frozen=True)
class WorldPlan:
    """A world before any fix is drawn: the town, every subject's movements (the true track), the crimes drafted
    on them, the simulated span (UTC seconds) and the seeds of the draws still to come (fixes, crime texts,
    geocoding errors). :func:`simulate_world` draws one trail from it; :mod:`geomatch.simulate.resample` draws
    the same subjects' trails at any other fix interval."""

    town: Town
    plans: list[Plan]
    drafts: list[CrimeDraft]
    first: date
    t_start: float
    t_end: float
    fix_seed: np.random.SeedSequence
    text_seed: np.random.SeedSequence
    geo_seed: np.random.SeedSequence


def plan_world(n_subjects: int = 36, days: int = 7, seed: int = 1, start: str = "2026-10-22",
               fix_interval_s: int = 60, *, progress: bool = False) -> WorldPlan:
    """The town, subjects, movements and crimes of :func:`simulate_world` (same arguments), without fixes."""
    if n_subjects < 1 or days < 1 or fix_interval_s < 1:
        raise InputError("simulate needs at least one subject, one day and a fix interval of 1 s or more")
    try:
        first = date.fromisoformat(start)
    except ValueError as error:
        raise InputError(f"start must be a date like 2026-10-22, not {start!r}") from error
    if not (date(1971, 1, 1) <= first and (date(2200, 1, 1) - first).days >= days):
        raise InputError(f"a world from {start} for {days} days lies outside the years 1971 to 2200")
    town_seed, plan_seed, crime_seed, fix_seed, text_seed, geo_seed = np.random.SeedSequence(seed).spawn(6)
    town_rng, plan_rng, crime_rng = (np.random.default_rng(s) for s in (town_seed, plan_seed, crime_seed))
    day_list = [first + timedelta(days=i) for i in range(days)]
    t_start, t_end = local_to_utc(first, 0.0), local_to_utc(first + timedelta(days=days), 0.0)

    town = build_town(town_rng)
    subjects = make_subjects(plan_rng, town, n_subjects)
    plans = [build_plan(plan_rng, town, s, day_list, t_end)
             for s in tqdm(subjects, desc="routines", unit="subject", disable=not progress)]
    drafts = plant_crimes(crime_rng, town, plans, day_list, t_start, t_end, fix_interval_s)
    return WorldPlan(town, plans, drafts, first, t_start, t_end, fix_seed, text_seed, geo_seed)


def simulate_world(n_subjects: int = 36, days: int = 7, seed: int = 1, start: str = "2026-10-22",
                   fix_interval_s: int = 60, *, progress: bool = False) -> World:
    """Simulate ``n_subjects`` tagged subjects for ``days`` days from local midnight of ``start`` (Europe/London).

    About ``n_subjects * days * 86400 / fix_interval_s`` fixes (fewer in gaps) and
    ``days * (30 + 0.1 * n_subjects)`` crimes by untagged people, plus the offenders' crimes (about 0.35 per
    offender-day) and planted coincidences (about 2.5 per subject-week).
    """
    plan = plan_world(n_subjects, days, seed, start, fix_interval_s, progress=progress)
    log.info("simulated %d subjects, %d crimes; drawing fixes", n_subjects, len(plan.drafts))
    trails = make_trails(np.random.default_rng(plan.fix_seed), plan.plans, plan.drafts, plan.t_start, plan.t_end,
                         fix_interval_s, progress=progress)
    return world_with_trails(plan, trails)


def world_with_trails(plan: WorldPlan, trails: pd.DataFrame) -> World:
    """The :class:`World` of ``plan`` with these trails: its crimes (texts and geocoding errors drawn from the
    plan's seeds, so every trail drawn from one plan gets the same crimes) and the truth."""
    text_rng, geo_rng = np.random.default_rng(plan.text_seed), np.random.default_rng(plan.geo_seed)
    crimes, truth = crime_tables(text_rng, geo_rng, plan.drafts, plan.plans, plan.first.year)
    return World(trails, crimes, moj_table(text_rng, crimes, truth.windows), truth, plan.town)


def plant_crimes(rng: np.random.Generator, town: Town, plans: list[Plan], days: list[date], t_start: float,
                 t_end: float, fix_interval_s: int) -> list[CrimeDraft]:
    """All crimes: the clock-change cases first (they need an unbroken night at home), then offenders' crimes,
    then innocent coincidences read off the finished plans, then crimes by untagged people."""
    drafts: list[CrimeDraft] = []
    for day in autumn_changes(days):
        drafts += plant_clock_change(rng, town, plans, day)
    for plan in plans:
        if plan.subject.is_offender:
            drafts += plant_committed(rng, town, plan, len(days))
    for plan in plans:
        drafts += plant_innocent(rng, plan, len(days), fix_interval_s)
    n_background = int(rng.poisson(background_rate_per_day(len(plans)) * len(days)))
    return drafts + plant_background(rng, town, t_start, t_end, n_background)


# ---- trails ---------------------------------------------------------------------------------------------------

def knots(plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The plan as a piecewise-linear track: knot times (UTC s), x, y (BNG m), and whether the segment that
    starts at each knot is a stay indoors (home, work, shop, leisure; a crime scene counts as outdoors)."""
    t, x, y, indoor = [], [], [], []
    for leg in plan.legs:
        if isinstance(leg, Stay):
            t += [leg.t0, leg.t1]
            x += [leg.door[0]] * 2
            y += [leg.door[1]] * 2
            indoor += [leg.kind != "scene", False]
        else:
            t += leg.times.tolist()
            x += leg.path[:, 0].tolist()
            y += leg.path[:, 1].tolist()
            indoor += [False] * len(leg.times)
    return np.array(t), np.array(x), np.array(y), np.array(indoor)


def _mask_intervals(t: np.ndarray, intervals: list[tuple[float, float]]) -> np.ndarray:
    """Fixes (sorted times ``t``) inside any of ``intervals``."""
    mask = np.zeros(len(t), dtype=bool)
    for a, b in intervals:
        mask[np.searchsorted(t, a):np.searchsorted(t, b, side="right")] = True
    return mask


def _subject_fixes(rng: np.random.Generator, plan: Plan, protected: list[tuple[float, float]], t_start: float,
                   t_end: float, interval_s: int) -> dict[str, np.ndarray]:
    """One subject's fix times and true positions, with gaps (indoors, uncharged) cut out of unprotected time."""
    n = int((t_end - t_start) // interval_s) + 1
    t = t_start + rng.integers(interval_s) + np.arange(n, dtype=np.int64) * interval_s
    if interval_s >= 10:
        t = t + rng.integers(-2, 3, n)
    t = t[(t >= t_start) & (t < t_end)]
    kt, kx, ky, kin = knots(plan)
    seg = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    dt = kt[seg + 1] - kt[seg]
    moving = np.hypot(kx[seg + 1] - kx[seg], ky[seg + 1] - ky[seg]) > 0.5 * np.maximum(dt, 1e-9)
    safe = _mask_intervals(t, protected)
    days = (t_end - t_start) / 86400.0
    gaps = []
    for count, (lo, hi) in ((rng.poisson(2.5 * days), (300.0, 1200.0)), (rng.poisson(0.3 * days), (3600.0, 10800.0))):
        for a, length in zip(rng.uniform(t_start, t_end, count), rng.uniform(lo, hi, count)):
            i, j = np.searchsorted(t, a), np.searchsorted(t, a + length)
            if not safe[i:j].any():
                gaps.append((a, a + length))
    keep = ~_mask_intervals(t, gaps)
    return {"t": t[keep], "x": np.interp(t, kt, kx)[keep], "y": np.interp(t, kt, ky)[keep],
            "moving": moving[keep], "indoor": (kin[seg] & ~moving)[keep], "safe": safe[keep]}


def protected_spans(drafts: list[CrimeDraft]) -> dict[str, list[tuple[float, float]]]:
    """Per subject, the spans (UTC s) kept free of gaps and fallback fixes: 10 minutes either side of the time
    the subject was at or passing a planted crime's scene."""
    protected: dict[str, list[tuple[float, float]]] = {}
    for d in drafts:
        if d.subject_id is not None:
            protected.setdefault(d.subject_id, []).append((d.near_from - 600.0, d.near_to + 600.0))
    return protected


def make_trails(rng: np.random.Generator, plans: list[Plan], drafts: list[CrimeDraft], t_start: float,
                t_end: float, interval_s: int, *, progress: bool = False) -> pd.DataFrame:
    """GPS fixes of every subject: columns subject_id, timestamp (UTC), lat, lon (WGS84), accuracy_m, source.

    GPS accuracy is 3-12 m outdoors and 6-25 m indoors; indoors 12 % of fixes fall back to WIFI (30-80 m) and
    2 % to LBS (200-1000 m), outdoors 1 % to LBS. The position error is a 2-D normal with sigma =
    accuracy / 1.51 (so accuracy is the 68 % radius), correlated from fix to fix (AR(1), 0.7). Near planted
    crimes (10 min either side of the subject's time at the scene) there are no gaps and only GPS fixes.
    """
    protected = protected_spans(drafts)
    parts = [_subject_fixes(rng, plan, protected.get(plan.subject.subject_id, []), t_start, t_end, interval_s)
             for plan in tqdm(plans, desc="trails", unit="subject", disable=not progress)]
    sizes = [len(p["t"]) for p in parts]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cols["t"])

    u = rng.random(n)
    lbs = ~cols["safe"] & (u < np.where(cols["indoor"], 0.02, 0.01))
    wifi = ~cols["safe"] & cols["indoor"] & ~lbs & (u < 0.14)
    source = np.where(lbs, 1, np.where(wifi, 2, 0)).astype(np.int8)
    accuracy = np.where(cols["indoor"], rng.uniform(6.0, 25.0, n), rng.uniform(3.0, 12.0, n))
    accuracy = np.where(wifi, rng.uniform(30.0, 80.0, n), accuracy)
    accuracy = np.round(np.where(lbs, rng.uniform(200.0, 1000.0, n), accuracy), 1)
    ar = 0.7
    noise = lfilter([np.sqrt(1.0 - ar ** 2)], [1.0, -ar], rng.standard_normal((2, n)), axis=1)
    x = cols["x"] + noise[0] * accuracy * SIGMA_PER_ACCURACY
    y = cols["y"] + noise[1] * accuracy * SIGMA_PER_ACCURACY
    lon, lat = transform(x, y, BNG, WGS84)

    ids = [p.subject.subject_id for p in plans]
    subject = pd.Categorical.from_codes(np.repeat(np.arange(len(ids), dtype=np.int32), sizes), categories=ids)
    return pd.DataFrame({
        "subject_id": subject,
        "timestamp": pd.to_datetime(cols["t"], unit="s", utc=True).astype("datetime64[ns, UTC]"),
        "lat": np.round(lat, 7), "lon": np.round(lon, 7), "accuracy_m": accuracy,
        "source": pd.Categorical.from_codes(source, categories=list(SOURCES)),
    })


# ---- crime tables ---------------------------------------------------------------------------------------------

def _iso_utc(seconds) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(seconds, dtype=float), unit="s", utc=True)
                     .strftime("%Y-%m-%dT%H:%M:%SZ"))


def _local_text(seconds) -> pd.Series:
    """UTC seconds as naive UK local time text, as police systems export it."""
    utc = pd.to_datetime(np.asarray(seconds, dtype=float), unit="s", utc=True)
    return pd.Series(utc.tz_convert(UK_TZ).strftime("%Y-%m-%d %H:%M:%S"))


def _in_repeated_hour(seconds) -> np.ndarray:
    """Whether a UTC instant reads, in UK local time, as a wall-clock time that happens twice."""
    utc = pd.to_datetime(np.asarray(seconds, dtype=float), unit="s", utc=True)
    offset_now = utc.tz_convert(UK_TZ).strftime("%z")
    return np.asarray((offset_now != (utc + pd.Timedelta(hours=1)).tz_convert(UK_TZ).strftime("%z"))
                      | (offset_now != (utc - pd.Timedelta(hours=1)).tz_convert(UK_TZ).strftime("%z")))


def crime_tables(rng: np.random.Generator, geo_rng: np.random.Generator, drafts: list[CrimeDraft],
                 plans: list[Plan], year: int) -> tuple[pd.DataFrame, Truth]:
    """Give crimes references in time order (``SF/26/000123``), record each at its true place plus a geocoding
    error (``geo_rng``), and build the crimes table and the truth."""
    d = pd.DataFrame([c.__dict__ for c in drafts])
    d = d.sort_values(["t_from", "t_to", "x", "y", "offence"], kind="stable").reset_index(drop=True)
    d["crime_ref"] = [f"{REF_PREFIX}/{year % 100:02d}/{i + 1:06d}" for i in range(len(d))]
    dx, dy = geocode_error(geo_rng, len(d))
    d["rx"], d["ry"] = (d["x"] + dx).round(1), (d["y"] + dy).round(1)
    d["x"], d["y"] = d["x"].round(1), d["y"].round(1)
    crimes = pd.DataFrame({
        "crime_ref": d["crime_ref"], "offence": d["offence"], "easting": d["rx"], "northing": d["ry"],
        "committed_from": _local_text(d["t_from"]), "committed_to": _local_text(d["t_to"]),
        "area": ward_of(d["rx"].to_numpy(), d["ry"].to_numpy()),
        "free_text": [free_text(rng, o) for o in d["offence"]],
    })
    planted = d[d["scenario"].notna()].sort_values(["crime_ref", "subject_id"]).reset_index(drop=True)
    scenarios = pd.DataFrame({
        "crime_ref": planted["crime_ref"], "subject_id": planted["subject_id"], "scenario": planted["scenario"],
        "offence": planted["offence"], "planted_distance_m": planted["distance_m"].astype(float).round(1),
        "near_from": _iso_utc(planted["near_from"]), "near_to": _iso_utc(planted["near_to"]),
        "true_x": planted["x"], "true_y": planted["y"],
        "geocode_error_m": np.hypot(planted["rx"] - planted["x"], planted["ry"] - planted["y"]).round(1),
    })
    committed = scenarios[scenarios["scenario"] == "committed"]
    committed = committed[["crime_ref", "subject_id", "near_from", "near_to", "true_x", "true_y"]].rename(
        columns={"near_from": "at_scene_from", "near_to": "at_scene_to"}).reset_index(drop=True)
    people = [p.subject for p in plans]
    work = [s.work or (np.nan, np.nan) for s in people]
    subjects = pd.DataFrame({
        "subject_id": [s.subject_id for s in people],
        "home_x": [s.home[0] for s in people], "home_y": [s.home[1] for s in people],
        "work_x": [w[0] for w in work], "work_y": [w[1] for w in work],
    }).round(1).assign(is_offender=[s.is_offender for s in people], has_car=[s.has_car for s in people])
    windows = pd.DataFrame({
        "crime_ref": d["crime_ref"], "from_utc": _iso_utc(d["t_from"]), "to_utc": _iso_utc(d["t_to"]),
        "dst_ambiguous": _in_repeated_hour(d["t_from"]) | _in_repeated_hour(d["t_to"]),
    })
    return crimes, Truth(committed, scenarios, subjects, windows)


def moj_table(rng: np.random.Generator, crimes: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """The crimes with an MoJ code in the MoJ crime-mapping request format (13 columns, times in UTC as
    ``yyyyMMddHHmmss``). Each row gives easting/northing (70 %) or latitude/longitude, never both."""
    keep = crimes["offence"].isin(list(MOJ_CODES)).to_numpy()
    c, w = crimes[keep].reset_index(drop=True), windows[keep].reset_index(drop=True)
    codes = [MOJ_CODES[o] for o in c["offence"]]
    from_utc = pd.to_datetime(w["from_utc"], utc=True)
    grid = rng.random(len(c)) < 0.7
    lon, lat = transform(c["easting"].to_numpy(), c["northing"].to_numpy(), BNG, WGS84)
    blank = pd.Series([pd.NA] * len(c), dtype="Float64")
    return pd.DataFrame({
        "police_force": FORCE, "crime_type_code": [k for k, _ in codes],
        "crime_type_description": [t for _, t in codes],
        "batch_id": REF_PREFIX + "-" + from_utc.dt.strftime("%G-W%V"),
        "crime_ref": c["crime_ref"],
        "date_time_from": from_utc.dt.strftime("%Y%m%d%H%M%S"),
        "date_time_to": pd.to_datetime(w["to_utc"], utc=True).dt.strftime("%Y%m%d%H%M%S"),
        "easting": c["easting"].astype("Float64").where(grid, blank),
        "northing": c["northing"].astype("Float64").where(grid, blank),
        "latitude": pd.Series(np.round(lat, 7), dtype="Float64").where(~grid, blank),
        "longitude": pd.Series(np.round(lon, 7), dtype="Float64").where(~grid, blank),
        "datum": np.where(grid, "OSGB36", "WGS84"),
        "free_text": c["free_text"],
    })


# ---- writing --------------------------------------------------------------------------------------------------

def write_world(world: World, out_dir: str | Path, *, trails_format: str = "parquet",
                dirty: bool = False) -> list[Path]:
    """Write ``trails.parquet`` (or ``trails.csv``), ``crimes.csv``, ``crimes_moj.csv`` (no header),
    ``basemap.gpkg`` (the town's named streets and buildings, when the world has its town) and
    ``truth/{committed,scenarios,subjects,windows}.csv``; with ``dirty`` also plant a few bad rows for the
    quarantine and list them in ``truth/dirty.csv``. Returns the paths written."""
    if trails_format not in ("parquet", "csv"):
        raise InputError(f"trails format must be parquet or csv, not {trails_format!r}")
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    trails, crimes, moj = world.trails, world.crimes, world.crimes_moj
    paths = [out / f"trails.{trails_format}", out / "crimes.csv", out / "crimes_moj.csv"]
    if dirty:
        trails, crimes, moj, dirty_rows = plant_dirty(world, paths[0].name)
    _write_trails(trails, paths[0])
    _write_csv(crimes, paths[1])
    _write_csv(moj, paths[2], header=False)
    truth = {"committed": world.truth.committed, "scenarios": world.truth.scenarios,
             "subjects": world.truth.subjects, "windows": world.truth.windows}
    if dirty:
        truth["dirty"] = dirty_rows
    if world.town is not None:
        from geomatch.simulate.streets import write_town_basemap

        paths.append(write_town_basemap(world.town, out / "basemap.gpkg"))
    for name, frame in truth.items():
        paths.append(out / "truth" / f"{name}.csv")
        _write_csv(frame, paths[-1])
    return paths


def _write_csv(frame: pd.DataFrame, path: Path, *, header: bool = True) -> None:
    frame.to_csv(path, index=False, header=header, lineterminator="\n")


def _write_trails(trails: pd.DataFrame, path: Path) -> None:
    """Parquet with ``timestamp`` as UTC timestamps, or CSV with ISO 8601 ``...Z`` text; plain string columns."""
    table = pa.Table.from_pandas(trails[TRAIL_COLUMNS], preserve_index=False).replace_schema_metadata(None)
    for name in ("subject_id", "source"):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(name).cast(pa.string()))
    if path.suffix == ".parquet":
        pq.write_table(table, path, compression="zstd")
        return
    i = table.schema.get_field_index("timestamp")
    seconds = table.column("timestamp").cast(pa.timestamp("s", tz="UTC"))
    table = table.set_column(i, "timestamp", pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ"))
    with open(path, "wb") as handle:  # ids, codes and times never need quotes
        handle.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none"))
