"""Brute-force statement of the matching rules, for tests: plain loops over every subject, crime and fix.

Written independently of :mod:`geomatch.match.matcher` (scalar maths, a different derivation of the segment-circle
crossing) so that agreement between the two means something.
"""
from __future__ import annotations

import math

import pandas as pd

from geomatch.match.config import MatchConfig
from geomatch.quality.flags import flag_quality

NS = 1_000_000_000


def oracle_hits(trails: pd.DataFrame, crimes: pd.DataFrame, config: MatchConfig) -> dict[tuple[str, str], dict]:
    """``{(subject_id, crime_ref): {"presence": ..., measurements...}}`` for every hit.

    The trail-quality rule: only ``ok`` fixes make the path (consecutive ok fixes are joined unless the step is
    a jump faster than ``outlier_speed_mps``, accuracy allowed for); ``fallback`` fixes count only by their
    accuracy circle; ``outlier`` fixes not at all. Trails without a ``quality`` column are flagged first.
    """
    if "quality" not in trails.columns:
        trails = flag_quality(trails, config.quality_rule)
    hits = {}
    by_subject = {s: g.sort_values("timestamp") for s, g in trails.groupby("subject_id", observed=True)}
    for crime in crimes.itertuples(index=False):
        rule = config.rule(crime.offence)
        r = rule.radius_m
        ws = crime.committed_from.value - round(rule.pad_s * NS)
        we = crime.committed_to.value + round(rule.pad_s * NS)
        for subject, fixes in by_subject.items():
            pts = [(f.timestamp.value, f.x, f.y, 0.0 if math.isnan(f.accuracy_m) else f.accuracy_m, f.quality)
                   for f in fixes.itertuples(index=False)]
            good = [p[:4] for p in pts if p[4] == "ok"]
            result = _one(good, crime.x, crime.y, r, ws, we, config)
            circles = [(math.dist((x, y), (crime.x, crime.y)) - acc, t, math.dist((x, y), (crime.x, crime.y)))
                       for t, x, y, acc, q in pts if q == "fallback" and ws <= t <= we]
            circle = min(circles) if circles and min(circles)[0] <= r else None
            if result is None and circle is not None:
                result = {"presence": "possible", "min_distance_m": circle[2], "closest_time_ns": circle[1],
                          "time_in_zone_s": 0.0, "n_fixes_in_zone": 0, "first_in_ns": None, "last_out_ns": None,
                          "max_gap_s": (we - ws) / NS}
            elif result is not None and circle is not None and result["presence"] is None:
                result["presence"] = "possible"
            if result is not None and result["presence"] is not None:
                committed = _one(good, crime.x, crime.y, r, crime.committed_from.value, crime.committed_to.value,
                                 config, outside=False)
                result["min_distance_committed_m"] = (committed["min_distance_m"] if committed else math.nan)
                result["time_in_zone_committed_s"] = committed["time_in_zone_s"] if committed else 0.0
                result["coverage"] = _coverage(pts, crime.committed_from.value, crime.committed_to.value, config)
                hits[(str(subject), str(crime.crime_ref))] = result
    return hits


def _least_speed(a, b) -> float:
    """Distance less both accuracy radii (not below 0) over the time, between two (t, x, y, accuracy) fixes."""
    reach = max(math.dist(a[1:3], b[1:3]) - a[3] - b[3], 0.0)
    return 0.0 if reach == 0 else reach / ((b[0] - a[0]) / NS) if b[0] != a[0] else math.inf


def _coverage(pts, a, b, config: MatchConfig) -> tuple[float, float, float, float, int]:
    """Shares of ``[a, b]`` covered by good fixes, by fallback fixes only and by gaps; the longest gap (s) and
    the number of gaps: intervals listed, then merged by sorting."""
    g_ns, top = config.interp_max_gap_s * NS, config.outlier_speed_mps
    kept = [p for p in pts if p[4] != "outlier"]
    ok = [p for p in kept if p[4] == "ok"]
    good = [(p[0], q[0]) for p, q in zip(ok, ok[1:]) if q[0] - p[0] <= g_ns and _least_speed(p, q) <= top]
    covered = [(p[0], q[0]) for p, q in zip(kept, kept[1:]) if q[0] - p[0] <= g_ns
               and not (p[4] == q[4] == "ok" and _least_speed(p, q) > top)]
    if a == b:
        at_good = any(u <= a <= v for u, v in good) or any(p[0] == a for p in ok)
        at_any = at_good or any(u <= a <= v for u, v in covered) or any(p[0] == a for p in kept)
        return (float(at_good), float(at_any and not at_good), float(not at_any), 0.0, int(not at_any))

    def union(intervals):
        merged = []
        for u, v in sorted((max(u, a), min(v, b)) for u, v in intervals if v >= a and u <= b):
            if merged and u <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], v)
            else:
                merged.append([u, v])
        return merged

    any_union = union(covered)
    good_len = sum(v - u for u, v in union(good))
    any_len = sum(v - u for u, v in any_union)
    bounds = [a] + [x for u, v in any_union for x in (u, v)] + [b]
    gaps = [bounds[k + 1] - bounds[k] for k in range(0, len(bounds), 2) if bounds[k + 1] > bounds[k]]
    length = b - a
    return (good_len / length, (any_len - good_len) / length, 1 - any_len / length, max(gaps, default=0) / NS,
            len(gaps))


def _one(pts, cx, cy, r, ws, we, config: MatchConfig, outside: bool = True):
    """The presence (``None`` if none) and measurements of one subject's good fixes against one zone and
    window; ``None`` when the trail does not reach into the window."""
    if not pts or pts[-1][0] < ws or pts[0][0] > we:
        return None
    observed = interpolated = possible = False
    best = (math.inf, 0)
    in_zone_times = []
    time_in_zone = 0.0
    n_in_zone = 0
    max_gap = 0.0
    g_ns = config.interp_max_gap_s * NS
    top = config.outlier_speed_mps
    for t, x, y, acc in pts:
        if ws <= t <= we:
            d = math.dist((x, y), (cx, cy))
            best = min(best, (d, t))
            if d <= r:
                observed = True
                n_in_zone += 1
                in_zone_times.append(t)
            if d <= r + acc:
                possible = True

    def joined(k: int) -> bool:
        return _least_speed(pts[k], pts[k + 1]) <= top

    def speed_of_step(k: int) -> float:  # speed on the step from fix k to k+1 if it is a segment, else 0
        if k < 0 or k + 1 >= len(pts) or not 0 < pts[k + 1][0] - pts[k][0] <= g_ns or not joined(k):
            return 0.0
        return math.dist(pts[k][1:3], pts[k + 1][1:3]) / ((pts[k + 1][0] - pts[k][0]) / NS)

    for k, ((t0, x0, y0, _), (t1, x1, y1, _)) in enumerate(zip(pts, pts[1:])):
        if t1 < ws or t0 > we:
            continue
        dt = t1 - t0
        max_gap = max(max_gap, dt / NS)
        if dt > g_ns:
            if dt <= config.possible_max_gap_s * NS:
                v = min(max(config.walk_speed_mps, speed_of_step(k - 1), speed_of_step(k + 1)), config.max_speed_mps)
                d0 = max(math.dist((x0, y0), (cx, cy)) - r, 0.0)
                d1 = max(math.dist((x1, y1), (cx, cy)) - r, 0.0)
                arrive = t0 + d0 / v * NS
                leave = t1 - d1 / v * NS
                if arrive <= leave and arrive <= we and leave >= ws:
                    possible = True
            continue
        if not joined(k):  # a jump: neither a path nor a gap
            continue
        # clip the segment to the window, as fractions of the step
        a = max(0.0, (ws - t0) / dt) if dt else 0.0
        b = min(1.0, (we - t0) / dt) if dt else 1.0
        vx, vy = x1 - x0, y1 - y0
        length2 = vx * vx + vy * vy
        if length2 == 0:
            u_closest = a
            h = math.dist((x0, y0), (cx, cy))
            crossing = (a, b) if h <= r else None
        else:
            u_foot = ((cx - x0) * vx + (cy - y0) * vy) / length2
            u_closest = min(max(u_foot, a), b)
            h = math.dist((x0 + u_foot * vx, y0 + u_foot * vy), (cx, cy))
            if h <= r:
                half = math.sqrt(r * r - h * h) / math.sqrt(length2)
                lo, hi = max(u_foot - half, a), min(u_foot + half, b)
                crossing = (lo, hi) if lo <= hi else None
            else:
                crossing = None
        d = math.dist((x0 + u_closest * vx, y0 + u_closest * vy), (cx, cy))
        best = min(best, (d, t0 + u_closest * dt))
        if crossing is not None:
            interpolated = True
            time_in_zone += (crossing[1] - crossing[0]) * dt / NS
            in_zone_times += [t0 + crossing[0] * dt, t0 + crossing[1] * dt]
    presence = "observed" if observed else "interpolated" if interpolated else "possible" if possible else None
    if math.isinf(best[0]) and outside:  # nothing of the trail inside the window: the nearer of the fixes either side
        around = [p for p in pts if p[0] < ws][-1:] + [p for p in pts if p[0] > we][:1]
        best = min((math.dist((x, y), (cx, cy)), t) for t, x, y, _ in around)
    if math.isinf(best[0]):
        best = (math.nan, None)
    return {
        "presence": presence,
        "min_distance_m": best[0],
        "closest_time_ns": best[1],
        "time_in_zone_s": time_in_zone,
        "n_fixes_in_zone": n_in_zone,
        "first_in_ns": min(in_zone_times) if in_zone_times else None,
        "last_out_ns": max(in_zone_times) if in_zone_times else None,
        "max_gap_s": max_gap,
    }
