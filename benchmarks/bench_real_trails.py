"""Scoring on real GPS trails at several sampling rates: do real stops still outrank real passes?

The trails are ten GeoLife users (Beijing, 2007-2008, one fix every 1-5 s, from the trackintel examples in
``../shared/data/gps/``). Scenes are planted on them, seeded:

* *committed*: at real dwells, found by the classic stay-point rule of Li et al. (2008), independent of the
  scorer's own: the fixes after a fix that stay within 100 m of it for 5 to 40 minutes, with no gap over 5 min.
  The scene is 10-30 m from the dwell's median position;
* *innocent*: at passing points, fixes where the trail moves at least 150 m net over the 2 minutes around them,
  farther than 200 m and 30 min from every dwell. The scene is 5-15 m from the fix.

Each scene gets a burglary window of 20-90 min around the dwell's middle or the passing time. The trails are
matched and scored as recorded, and thinned to one fix every 5, 15, 60 and 120 s (the first fix of each
interval); the ROC AUC of committed against innocent hits is printed per rate (accuracy unknown: the scorer's
default). Only the public API is used, so the same module measures any version of the scorer.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from geomatch.core.crs import WGS84, transform
from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from geomatch.scoring import Scorer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gps" / "geolife_trackintel_10users.csv"
RATES_S = (0, 5, 15, 60, 120)  # 0: as recorded
NS = 1_000_000_000
DWELLS_PER_USER, PASSES_PER_USER = 8, 16


def dwells(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[tuple[int, int]]:
    """Stay points by Li et al.'s rule (see the module docstring): (first, last) fix of each."""
    found, i, n = [], 0, len(t)
    while i < n - 1:
        j = i + 1
        while j < n and np.hypot(x[j] - x[i], y[j] - y[i]) <= 100.0 and t[j] - t[j - 1] <= 300 * NS:
            j += 1
        if 300 * NS <= t[j - 1] - t[i] <= 2400 * NS:
            found.append((i, j - 1))
            i = j
        else:
            i += 1
    return found


def plant(trails: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Crimes (table format, WGS84, UTC times) with ``committed`` scenes at dwells and innocent ones at passes;
    ``truth`` says which subject each was planted on and whether it is committed."""
    rng = np.random.default_rng(seed)
    rows = []
    for subject, fixes in trails.groupby("subject_id", observed=True):
        t = fixes["timestamp"].dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view("i8")
        x, y = fixes["x"].to_numpy(), fixes["y"].to_numpy()
        stays = dwells(t, x, y)
        centres = np.array([[np.median(x[a:b + 1]), np.median(y[a:b + 1])] for a, b in stays]).reshape(-1, 2)
        spans = np.array([[t[a], t[b]] for a, b in stays]).reshape(-1, 2)
        before = np.maximum(np.searchsorted(t, t - 60 * NS, side="left"), 0)
        after = np.minimum(np.searchsorted(t, t + 60 * NS, side="right") - 1, len(t) - 1)
        moving = (np.hypot(x[after] - x[before], y[after] - y[before]) >= 150.0) & (t[after] - t[before] <= 180 * NS)
        for cx, cy in centres:
            moving &= np.hypot(x - cx, y - cy) > 200.0
        for a, b in spans:
            moving &= (t < a - 1800 * NS) | (t > b + 1800 * NS)
        for k in rng.permutation(len(stays))[:DWELLS_PER_USER]:
            a, b = stays[k]
            rows.append((subject, True, *centres[k], (t[a] + t[b]) // 2, rng.uniform(10.0, 30.0)))
        for i in rng.permutation(np.flatnonzero(moving))[:PASSES_PER_USER]:
            rows.append((subject, False, x[i], y[i], t[i], rng.uniform(5.0, 15.0)))
    plan = pd.DataFrame(rows, columns=["subject_id", "committed", "px", "py", "at", "offset_m"])
    angle = rng.uniform(0.0, 2.0 * np.pi, len(plan))
    length = rng.uniform(1200.0, 5400.0, len(plan))
    start = plan["at"] - rng.uniform(0.1, 0.9, len(plan)) * length * NS
    return plan.assign(x=plan["px"] + plan["offset_m"] * np.cos(angle), y=plan["py"] + plan["offset_m"] * np.sin(angle),
                       committed_from=pd.to_datetime(start.astype(np.int64), utc=True),
                       committed_to=pd.to_datetime((start + length * NS).astype(np.int64), utc=True),
                       crime_ref=[f"R{i:04d}" for i in range(len(plan))])


def thin(raw: pd.DataFrame, interval_s: int) -> pd.DataFrame:
    """The first fix of each ``interval_s`` of each subject (all fixes for 0)."""
    if interval_s == 0:
        return raw
    slot = raw["timestamp"].dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view("i8") // (interval_s * NS)
    return raw[~pd.DataFrame({"s": raw["subject_id"], "k": slot}).duplicated().to_numpy()]


def main(quick: bool = False) -> None:
    if not DATA.is_file():
        print(f"skipped: {DATA} is not there")
        return
    raw = pd.read_csv(DATA)
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], utc=True)
    raw = raw.sort_values(["subject_id", "timestamp"], kind="stable").reset_index(drop=True)
    config = MatchConfig()
    rates = RATES_S[:1] + RATES_S[3:4] if quick else RATES_S
    with tempfile.TemporaryDirectory() as folder:
        whole = Path(folder) / "trails.csv"
        raw.to_csv(whole, index=False)
        full = load_trails(whole)
        planted = plant(full.accepted)
        lon, lat = transform(planted["x"].to_numpy(), planted["y"].to_numpy(), full.crs, WGS84)
        crimes_path = Path(folder) / "crimes.csv"
        planted.assign(offence="burglary_residential", lat=lat, lon=lon)[
            ["crime_ref", "offence", "lat", "lon", "committed_from", "committed_to"]].to_csv(crimes_path, index=False)
        print(f"real trails: {len(raw):,} fixes of {raw['subject_id'].nunique()} GeoLife users (1-5 s); planted "
              f"{int(planted['committed'].sum())} scenes at dwells (committed) and {int((~planted['committed']).sum())} "
              f"at passing points (innocent)")
        print(f"{'interval':>11} {'fixes':>8} {'hits':>6} {'committed':>9} {'innocent':>8} {'ROC AUC':>8} "
              f"{'committed >= 60':>15} {'innocent >= 60':>14}")
        for interval in rates:
            path = Path(folder) / f"trails_{interval}.csv"
            thin(raw, interval).to_csv(path, index=False)
            trails = load_trails(path, target_crs=full.crs)
            crimes = load_crimes(crimes_path, target_crs=trails.crs, naive_tz=config.naive_tz,
                                 max_window_s=config.max_window_s)
            hits = match_hits(trails, crimes, config)
            scored = Scorer().score(hits, trails.accepted, crimes.accepted, config)
            truth = planted.set_index("crime_ref")
            own = scored["subject_id"].astype(str).to_numpy() == truth["subject_id"].reindex(
                scored["crime_ref"].astype(str)).astype(str).to_numpy()
            committed = own & truth["committed"].reindex(scored["crime_ref"].astype(str)).to_numpy(dtype=bool)
            score = scored["score"].to_numpy(float)
            name = "as recorded" if interval == 0 else f"{interval} s"
            print(f"{name:>11} {len(trails.accepted):>8,} {len(scored):>6,} {int(committed.sum()):>9} "
                  f"{int((~committed).sum()):>8} {roc_auc_score(committed, score):8.4f} "
                  f"{int((score[committed] >= 60).sum()):>11}/{int(committed.sum()):<3} "
                  f"{int((score[~committed] >= 60).sum()):>10}/{int((~committed).sum()):<3}", flush=True)


if __name__ == "__main__":
    main()
