"""Honest before/after statistics for an offender-management cohort.

For each cohort, measure (crimes, harm, cost) and comparison (before -> during, before -> after):

- the rate of each member in each window per 12 months at risk (members with at least :data:`MIN_MONTHS` months
  observed in both windows take part);
- the mean change with a percentile bootstrap 95 % confidence interval (members resampled, seeded), and the
  Wilcoxon signed-rank test of the paired rates (scipy; offending is skewed, so not a t-test);
- regression to the mean: people join IOM at a peak of their offending, so a fall is expected anyway; the
  report always says so and measures the peak (the share of the before window's crimes in its last quarter,
  against the quarter a steady rate gives);
- when the people file holds offenders who were never in a cohort: a comparison group matched on prior
  offending (propensity scores from a logistic regression, scikit-learn; 1:1 nearest neighbour without
  replacement, so one comparison offender may stand for several members, within a caliper, at the member's own
  start day), given the same calendar windows as its member, and the
  difference in differences (member change minus matched change) with its bootstrap CI and signed-rank test.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from vvol.cohort import MEASURES, OffenceLedger, add_months, member_windows, window_sums

MIN_MONTHS = 3.0
"""Months at risk a member needs in both windows of a comparison (fewer give rates too noisy to compare)."""
COMPARISONS = (("before", "during"), ("before", "after"))
ALPHA = 0.05
CALIPER_SD = 0.2
"""Matching caliper in standard deviations of the logit of the propensity score (Austin 2011)."""
MAX_CANDIDATES_PER_MEMBER = 100
"""Comparison candidates considered per member at most (a seeded random sample of the pool beyond that)."""


def rate(people: pd.DataFrame, measure: str, window: str) -> np.ndarray:
    """Per 12 months at risk (NaN where the window was not observed)."""
    months = people[f"months_{window}"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(months > 0, people[f"{measure}_{window}"].to_numpy(float) / months * 12, np.nan)


def bootstrap_ci(values: np.ndarray, *, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (NaN with fewer than 2 values)."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 500):  # chunks keep memory flat for large cohorts
        stop = min(start + 500, n_boot)
        means[start:stop] = values[rng.integers(0, len(values), (stop - start, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(low), float(high)


def signed_rank_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (zeros kept by Pratt's method); 1 when every difference is 0,
    NaN with fewer than 2 values."""
    differences = np.asarray(differences, float)
    if len(differences) < 2:
        return float("nan")
    if not np.any(differences != 0):
        return 1.0
    return float(stats.wilcoxon(differences, zero_method="pratt").pvalue)


def paired_summary(before: np.ndarray, after: np.ndarray, *, n_boot: int, seed: int) -> dict[str, float]:
    """n, mean rates, mean change (after - before), its bootstrap CI, % change of the means, signed-rank p."""
    change = after - before
    low, high = bootstrap_ci(change, n_boot=n_boot, seed=seed)
    mean_before = float(before.mean()) if len(before) else float("nan")
    mean_after = float(after.mean()) if len(after) else float("nan")
    return {"n": int(len(change)), "mean_before": mean_before, "mean_after": mean_after,
            "mean_change": float(change.mean()) if len(change) else float("nan"), "ci_low": low, "ci_high": high,
            "pct_change": 100 * (mean_after / mean_before - 1) if mean_before > 0 else float("nan"),
            "p_signed_rank": signed_rank_p(change)}


def peak_share(ledger: OffenceLedger, code: np.ndarray, start: np.ndarray, window_months: int,
               data_from: int) -> tuple[float, float]:
    """Share of the before-window crimes committed in its last quarter, and the share a steady rate gives (the
    last quarter's share of the observed before-window days). A share well above the steady one is a peak at
    joining: regression to the mean."""
    quarter = max(window_months // 4, 1)
    first = np.maximum(add_months(start, -window_months), data_from)
    late_first = np.maximum(add_months(start, -quarter), first)
    whole = ledger.sums(code, first, start - 1)["crimes"].sum()
    late = ledger.sums(code, late_first, start - 1)["crimes"].sum()
    days = np.maximum(start - first, 0).sum()
    steady = float(np.maximum(start - late_first, 0).sum() / days) if days else float("nan")
    return (float(late / whole) if whole else float("nan")), steady


@dataclass(frozen=True)
class Matched:
    """The matched comparison group of one cohort.

    Attributes:
        pairs: one row per matched member: ``person_id`` (member), ``match_id`` (comparison person),
            ``propensity`` and ``match_propensity``.
        comparison: the comparison people's window sums (as ``people.csv``), one row per pair, same order.
        balance: per feature: mean of members, of all candidates, of matched comparisons, and the standardised
            mean difference before and after matching.
        candidates: distinct comparison offenders considered; unmatched: members without a match within the
            caliper.
    """

    pairs: pd.DataFrame
    comparison: pd.DataFrame
    balance: pd.DataFrame
    candidates: int
    unmatched: int


FEATURES = ("crimes_12m", "harm_12m", "crimes_last_quarter", "crimes_13_24m")


def _features(ledger: OffenceLedger, code: np.ndarray, start: np.ndarray) -> pd.DataFrame:
    """Prior offending at ``start``: crimes and harm in the 12 months before, crimes in the last 3 months before
    (the peak) and in the 12 months before those."""
    year = add_months(start, -12)
    last = ledger.sums(code, year, start - 1)
    return pd.DataFrame({"crimes_12m": last["crimes"], "harm_12m": last["harm"],
                         "crimes_last_quarter": ledger.sums(code, add_months(start, -3), start - 1)["crimes"],
                         "crimes_13_24m": ledger.sums(code, add_months(start, -24), year - 1)["crimes"]})


def match_comparison(members: pd.DataFrame, candidates: pd.Index, ledger: OffenceLedger, *, as_of_day: int,
                     data_from: int, window_months: int, seed: int) -> Matched | None:
    """Propensity-score matched comparison group for ``members`` (one cohort's rows of ``people.csv`` plus day
    numbers ``start_day``, ``end_day``), drawn from ``candidates`` (person ids never in any cohort).

    Candidates are considered at each member start day (their features are their prior offending on that day;
    at most :data:`MAX_CANDIDATES_PER_MEMBER` per member, a seeded sample), and each member takes the candidate
    nearest in the logit of the propensity score at its own start day, with replacement, within
    :data:`CALIPER_SD`; the match gets its member's calendar windows. Returns None when there are no candidates.
    """
    if len(candidates) == 0 or len(members) == 0:
        return None
    rng = np.random.default_rng(seed)
    start = members["start_day"].to_numpy(np.int64)
    candidate_code = ledger.code(pd.Series(candidates))
    rows = [_features(ledger, ledger.code(members["person_id"]), start)]
    label, day_of, ref = [np.ones(len(members), np.int8)], [start], [np.arange(len(members))]
    for day in np.unique(start):
        wanted = MAX_CANDIDATES_PER_MEMBER * int((start == day).sum())
        take = candidate_code if len(candidate_code) <= wanted else \
            np.sort(rng.choice(candidate_code, wanted, replace=False))
        rows.append(_features(ledger, take, np.full(len(take), day)))
        label.append(np.zeros(len(take), np.int8))
        day_of.append(np.full(len(take), day))
        ref.append(take)
    features = pd.concat(rows, ignore_index=True)
    label, day_of, ref = np.concatenate(label), np.concatenate(day_of), np.concatenate(ref)
    x = StandardScaler().fit_transform(np.log1p(features.to_numpy(float)))
    score = LogisticRegression(C=1.0, max_iter=1000).fit(x, label).predict_proba(x)[:, 1]
    logit = np.log(np.clip(score, 1e-9, 1 - 1e-9) / np.clip(1 - score, 1e-9, 1))
    caliper = CALIPER_SD * float(np.std(logit))
    member_rows = np.flatnonzero(label == 1)
    member_rows = member_rows[np.argsort(day_of[member_rows], kind="stable")]
    pool_order = np.lexsort((logit, day_of))
    pool_order = pool_order[label[pool_order] == 0]
    pool_days, member_days = day_of[pool_order], day_of[member_rows]
    member_row, match_row = [], []
    for day in np.unique(start):
        pool = pool_order[np.searchsorted(pool_days, day):np.searchsorted(pool_days, day, side="right")]
        mine = member_rows[np.searchsorted(member_days, day):np.searchsorted(member_days, day, side="right")]
        if len(pool) == 0:
            continue
        at = np.clip(np.searchsorted(logit[pool], logit[mine]), 1, len(pool)) - 1
        nearer = np.minimum(at + 1, len(pool) - 1)
        pick = np.where(np.abs(logit[pool[nearer]] - logit[mine]) < np.abs(logit[pool[at]] - logit[mine]),
                        nearer, at)
        ok = np.abs(logit[pool[pick]] - logit[mine]) <= caliper
        member_row.append(mine[ok])
        match_row.append(pool[pick[ok]])
    member_row = np.concatenate(member_row) if member_row else np.array([], np.int64)
    match_row = np.concatenate(match_row) if match_row else np.array([], np.int64)
    order = np.argsort(member_row, kind="stable")
    member_row, match_row = member_row[order], match_row[order]
    member_index = ref[member_row]
    matched_code = ref[match_row]
    windows = member_windows(start[member_index], members["end_day"].to_numpy(np.int64)[member_index],
                             np.full(len(member_index), -1), as_of_day=as_of_day, data_from=data_from,
                             window_months=window_months)
    comparison = window_sums(ledger, matched_code, windows)
    pairs = pd.DataFrame({"person_id": members["person_id"].to_numpy()[member_index],
                          "match_id": np.asarray(ledger.person_ids, dtype=object)[matched_code],
                          "propensity": np.round(score[member_row], 4),
                          "match_propensity": np.round(score[match_row], 4)})
    return Matched(pairs=pairs, comparison=comparison, balance=_balance(features, label, match_row),
                   candidates=int(len(np.unique(ref[label == 0]))), unmatched=len(members) - len(pairs))


def _balance(features: pd.DataFrame, label: np.ndarray, matched_rows: np.ndarray) -> pd.DataFrame:
    members = features[label == 1]
    pool = features[label == 0]
    matched = features.iloc[matched_rows]
    rows = []
    for name in FEATURES:
        sd = np.sqrt((members[name].var() + pool[name].var()) / 2) or 1.0
        rows.append({"feature": name, "members": members[name].mean(), "all_candidates": pool[name].mean(),
                     "matched": matched[name].mean() if len(matched) else np.nan,
                     "smd_before": (members[name].mean() - pool[name].mean()) / sd,
                     "smd_after": (members[name].mean() - matched[name].mean()) / sd if len(matched) else np.nan})
    return pd.DataFrame(rows).round(3)


def cohort_statistics(people: pd.DataFrame, matched: Matched | None, *, n_boot: int, seed: int) -> pd.DataFrame:
    """One row per measure and comparison: the members' paired summary and, with a matched group, the matched
    group's own change and the difference in differences (``did_*``)."""
    rows = []
    for measure in MEASURES:
        for first, second in COMPARISONS:
            before, after = rate(people, measure, first), rate(people, measure, second)
            months_ok = (people[f"months_{first}"].fillna(0).to_numpy() >= MIN_MONTHS) & \
                        (people[f"months_{second}"].fillna(0).to_numpy() >= MIN_MONTHS)
            row = {"measure": measure, "comparison": f"{first} -> {second}"}
            row.update(paired_summary(before[months_ok], after[months_ok], n_boot=n_boot, seed=seed))
            if matched is not None and len(matched.pairs):
                pair_people = people.set_index("person_id").loc[matched.pairs["person_id"]].reset_index()
                m_before, m_after = rate(pair_people, measure, first), rate(pair_people, measure, second)
                c_before, c_after = rate(matched.comparison, measure, first), rate(matched.comparison, measure,
                                                                                   second)
                ok = (pair_people[f"months_{first}"].fillna(0).to_numpy() >= MIN_MONTHS) & \
                     (pair_people[f"months_{second}"].fillna(0).to_numpy() >= MIN_MONTHS)
                comparison = paired_summary(c_before[ok], c_after[ok], n_boot=n_boot, seed=seed)
                did = (m_after[ok] - m_before[ok]) - (c_after[ok] - c_before[ok])
                low, high = bootstrap_ci(did, n_boot=n_boot, seed=seed)
                row.update({"matched_pairs": int(ok.sum()), "comparison_mean_before": comparison["mean_before"],
                            "comparison_mean_after": comparison["mean_after"],
                            "comparison_mean_change": comparison["mean_change"],
                            "did": float(did.mean()) if len(did) else np.nan, "did_ci_low": low,
                            "did_ci_high": high, "did_p_signed_rank": signed_rank_p(did)})
            rows.append(row)
    return pd.DataFrame(rows)


def verdict(row: pd.Series) -> str:
    """One sentence on one statistics row, built from its numbers; says what the evidence does and does not show."""
    unit = {"crimes": "crimes", "harm": "harm points", "cost": "pounds"}[row["measure"]]
    first, second = row["comparison"].split(" -> ")
    if row["n"] < 2:
        return f"Too few members ({row['n']}) with {MIN_MONTHS:g}+ months in both windows to compare {first} " \
               f"with {second}."
    direction = "fell" if row["mean_change"] < 0 else "rose" if row["mean_change"] > 0 else "did not change"
    significant = row["p_signed_rank"] < ALPHA and not (row["ci_low"] <= 0 <= row["ci_high"])
    text = (f"{row['measure'].capitalize()} per member per 12 months at risk {direction} from "
            f"{row['mean_before']:,.2f} {unit} {first} to {row['mean_after']:,.2f} {second} (change {row['mean_change']:+,.2f}, 95% CI "
            f"{row['ci_low']:+,.2f} to {row['ci_high']:+,.2f}; signed-rank p = {row['p_signed_rank']:.3g}; "
            f"{row['n']} members); " + ("a change unlikely to be chance alone" if significant else
                                        "a change that chance alone could explain") + ".")
    if "did" in row and pd.notna(row.get("did")):
        did_significant = row["did_p_signed_rank"] < ALPHA and not (row["did_ci_low"] <= 0 <= row["did_ci_high"])
        text += (f" The matched comparison group changed by {row['comparison_mean_change']:+,.2f}; the difference "
                 f"in differences is {row['did']:+,.2f} (95% CI {row['did_ci_low']:+,.2f} to "
                 f"{row['did_ci_high']:+,.2f}; p = {row['did_p_signed_rank']:.3g}; {row['matched_pairs']} pairs): "
                 + ("the cohort changed differently from comparable offenders who were not managed."
                    if did_significant else "no difference from comparable offenders who were not managed can be "
                                            "shown, so the change above is not evidence that management worked."))
    else:
        text += " Without a comparison group this change cannot be credited to management (see regression to " \
                "the mean)."
    return text
