"""Brute-force statement of the matching rules, for tests: plain loops over every subject, crime and fix.

Written independently of :mod:`geomatch.match.matcher` (scalar maths, a different derivation of the segment-circle
crossing) so that agreement between the two means something.
"""
from __future__ import annotations

import math

import pandas as pd

from geomatch.match.config import MatchConfig

NS = 1_000_000_000


def oracle_hits(trails: pd.DataFrame, crimes: pd.DataFrame, config: MatchConfig) -> dict[tuple[str, str], dict]:
    """``{(subject_id, crime_ref): {"presence": ..., measurements...}}`` for every hit."""
    hits = {}
    by_subject = {s: g.sort_values("timestamp") for s, g in trails.groupby("subject_id", observed=True)}
    for crime in crimes.itertuples(index=False):
        rule = config.rule(crime.offence)
        r = rule.radius_m
        ws = crime.committed_from.value - round(rule.pad_s * NS)
        we = crime.committed_to.value + round(rule.pad_s * NS)
        for subject, fixes in by_subject.items():
            pts = [(f.timestamp.value, f.x, f.y, 0.0 if math.isnan(f.accuracy_m) else f.accuracy_m)
                   for f in fixes.itertuples(index=False)]
            result = _one(pts, crime.x, crime.y, r, ws, we, config)
            if result is not None:
                hits[(str(subject), str(crime.crime_ref))] = result
    return hits


def _one(pts, cx, cy, r, ws, we, config: MatchConfig):
    if not pts or pts[-1][0] < ws or pts[0][0] > we:
        return None
    observed = interpolated = possible = False
    best = (math.inf, 0)
    in_zone_times = []
    time_in_zone = 0.0
    n_in_zone = 0
    max_gap = 0.0
    g_ns = config.interp_max_gap_s * NS
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
    def speed_of_step(k: int) -> float:  # speed on the step from fix k to k+1 if it is a segment, else 0
        if k < 0 or k + 1 >= len(pts) or not 0 < pts[k + 1][0] - pts[k][0] <= g_ns:
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
    if presence is None:
        return None
    if math.isinf(best[0]):  # nothing of the trail inside the window: the nearer of the fixes either side
        around = [p for p in pts if p[0] < ws][-1:] + [p for p in pts if p[0] > we][:1]
        best = min((math.dist((x, y), (cx, cy)), t) for t, x, y, _ in around)
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
