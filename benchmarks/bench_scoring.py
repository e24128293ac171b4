"""Ranking quality and speed of scoring on the simulated world with ground truth.

Simulates (or reuses) the force-scale world (200 subjects x 30 days at one fix a minute; ``quick``: 36 x 7),
matches, scores, and prints from one run:

* how many committed crimes (``truth/committed.csv``) are in the hit list (none may be lost);
* ROC AUC of committed hits against every other hit, and against the planted hard innocent cases only
  (home next door, daily route, drive-by, shop stop, workplace nearby);
* the share of committed hits in the top 10 % of hits by score;
* the same figures for two baselines ranked in the same run: closest approach only, and time in the zone only;
* mean score and median rank percentile per scenario;
* scoring time and throughput, and its share of the match time;
* the fitted model on simulated reviews (a third of the hits, committed = arrest, the rest = no further action),
  compared with the default on held-out reviews.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks.common import BENCH_DIR, timed
from geomatch.match.config import MatchConfig
from geomatch.ingest.crimes import load_crimes
from geomatch.match.matcher import match_hits
from geomatch.scoring import Scorer, fit_model
from geomatch.simulate.world import simulate_world, write_world
from geomatch.ingest.trails import load_trails

TOP_SHARE = 0.10


def labelled_hits(hits: pd.DataFrame, world_dir) -> pd.DataFrame:
    """Hits with ``committed`` (bool) and ``scenario`` (planted scenario, or ``background``) from the truth."""
    committed = pd.read_csv(world_dir / "truth" / "committed.csv", dtype=str)
    scenarios = pd.read_csv(world_dir / "truth" / "scenarios.csv", dtype=str)
    key = pd.MultiIndex.from_frame(hits[["subject_id", "crime_ref"]].astype(str))
    truth = scenarios.set_index(["subject_id", "crime_ref"])["scenario"]
    truth = truth[~truth.index.duplicated()]
    out = hits.assign(scenario=truth.reindex(key).fillna("background").to_numpy())
    done = pd.MultiIndex.from_frame(committed[["subject_id", "crime_ref"]])
    return out.assign(committed=key.isin(done))


def ranking(labelled: pd.DataFrame, score: np.ndarray) -> dict[str, float]:
    """ROC AUC (all hits; planted hard cases only), the share of committed hits in the top 10 %, and in the top
    N where N is the number of committed hits (R-precision: a perfect ranking puts them all there)."""
    y = labelled["committed"].to_numpy()
    hard = (labelled["scenario"] != "background").to_numpy()
    order = np.lexsort((labelled["hit_id"].to_numpy(), -score))  # ties broken by hit id, as people would see
    top = order[: int(np.ceil(TOP_SHARE * len(order)))]
    return {"auc": roc_auc_score(y, score), "auc_hard": roc_auc_score(y[hard], score[hard]),
            "top": y[top].sum() / max(y.sum(), 1), "top_n": y[order[: y.sum()]].sum() / max(y.sum(), 1)}


def main(quick: bool = False) -> None:
    subjects, days = (36, 7) if quick else (200, 30)
    world_dir = BENCH_DIR / f"world_{subjects}x{days}"
    figures: dict[str, float] = {}
    if not (world_dir / "trails.parquet").exists():
        with timed(figures, "simulate"):
            write_world(simulate_world(n_subjects=subjects, days=days, seed=1), world_dir)
        print(f"simulated {subjects} subjects x {days} days in {figures['simulate']:.1f} s -> {world_dir}")
    config = MatchConfig()
    trails = load_trails(world_dir / "trails.parquet")
    crimes = load_crimes(world_dir / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    with timed(figures, "match"):
        hits = match_hits(trails.accepted, crimes.accepted, config)
    with timed(figures, "score"):
        scored = Scorer().score(hits, trails.accepted, crimes.accepted, config, progress=True)
    labelled = labelled_hits(scored, world_dir)
    n_committed = len(pd.read_csv(world_dir / "truth" / "committed.csv"))
    found = int(labelled["committed"].sum())
    print(f"world: {len(trails.accepted):,} fixes, {len(crimes.accepted):,} crimes, {len(hits):,} hits "
          f"({', '.join(f'{k} {v:,}' for k, v in hits['presence'].value_counts().sort_index().items())})")
    print(f"committed crimes in the hit list: {found} of {n_committed} (lost: {n_committed - found}); "
          f"rows kept by scoring: {len(scored):,} of {len(hits):,}")
    print(f"scoring: {figures['score']:.1f} s ({len(trails.accepted) / figures['score'] / 1e6:.2f} M fixes/s, "
          f"{len(hits) / figures['score']:,.0f} hits/s); matching took {figures['match']:.1f} s "
          f"(scoring / matching = {figures['score'] / figures['match']:.2f})")

    rows = {"default model (score)": scored["score"].to_numpy(float),
            "baseline: closest approach": -scored["min_distance_m"].to_numpy(float),
            "baseline: time in zone": scored["time_in_zone_s"].to_numpy(float)}
    print(f"{'ranking':<30} {'ROC AUC':>8} {'AUC hard':>9} {'committed in top 10 %':>22} {'in top N':>9}")
    for name, values in rows.items():
        r = ranking(labelled, values)
        print(f"{name:<30} {r['auc']:8.4f} {r['auc_hard']:9.4f} {r['top']:21.1%} {r['top_n']:9.1%}")
    print(f"(AUC hard: committed hits against the planted innocent cases only; top N: the top {found} hits)")
    print("targets: ROC AUC >= 0.95, >= 90 % of committed crimes in the top 10 %, none lost")

    percentile = scored["score"].rank(pct=True, method="average")
    summary = labelled.assign(percentile=percentile).groupby("scenario").agg(
        hits=("score", "size"), mean_score=("score", "mean"), median_percentile=("percentile", "median"))
    print("per scenario (rank percentile: 1.0 = top):")
    print(summary.round(2).to_string())

    reviews = labelled.sample(frac=1 / 3, random_state=1)
    reviews = reviews.assign(outcome=np.where(reviews["committed"], "arrest", "no_further_action"))
    if reviews["committed"].sum() >= 5:
        with timed(figures, "fit"):
            report = fit_model(reviews, estimator="logistic", seed=0).report
        print(f"fitted on simulated reviews ({figures['fit']:.1f} s):")
        for line in report.lines():
            print(f"  {line}")
