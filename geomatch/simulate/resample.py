"""The same simulated subjects' trails drawn at any fix interval, with GPS error that is correlated in time.

Real GPS error wanders: the satellites' geometry and the multipath around a subject change over tens of seconds,
so fixes a second apart share almost all of their error and fixes minutes apart almost none. Independent noise
per fix would make a still 1 s trail look like someone pacing about, and noise correlated from one fix to the
next (as :func:`geomatch.simulate.world.make_trails` draws it) changes its time scale with the sampling rate. Here
each subject's error is drawn once, on a 1 s grid over the whole span, and every trail drawn from the same
:class:`~geomatch.simulate.world.WorldPlan` reads it at its own fix times, so a 1 s and a 120 s trail of a subject
differ only in how often they look:

* the position error of each axis is a smooth random process of correlation time ``correlation_s`` (white
  noise through two first-order filters, an Ornstein-Uhlenbeck process smoothed once more, so that the error
  changes gradually: about 1 m/s of apparent wander for a 10 m accuracy at 1 s, as real receivers show) plus a
  little independent jitter (:func:`error_process`), scaled by the fix's accuracy / 1.51 (accuracy is the
  68 % radius of a 2-D normal);
* the accuracy drifts too: a third such process mapped onto the same bands as the world generator's (3-12 m
  outdoors, 6-25 m indoors), so its distribution at any one instant is theirs;
* gaps (tag indoors or uncharged: a few 5-20 min gaps a day, an hour or more now and then) and fallback episodes
  (2-10 min without GPS: Wi-Fi or phone-network fixes indoors, phone-network fixes outdoors now and then) are
  spans of time, the same at every interval. A fallback source reports at most once a minute, whatever the GPS
  interval; its error is its own (independent per fix, 30-80 m for Wi-Fi, 200-1000 m for LBS);
* no gaps and only GPS fixes within 10 minutes of a planted crime, as in the world generator.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtr
from tqdm import tqdm

from geomatch.core.crs import BNG, WGS84, transform
from geomatch.core.errors import InputError
from geomatch.ingest.trails import SOURCES
from geomatch.simulate.model import World
from geomatch.simulate.plans import Plan
from geomatch.simulate.world import SIGMA_PER_ACCURACY, WorldPlan, knots, protected_spans, world_with_trails

FALLBACK_EVERY_S = 60  # a Wi-Fi or phone-network fix at most once a minute
GAPS_PER_DAY = ((2.5, (300.0, 1200.0)), (0.3, (3600.0, 10800.0)))  # (mean count a day, (shortest, longest) s)
INDOOR_FALLBACK_SHARE, INDOOR_LBS_SHARE, OUTDOOR_LBS_SHARE = 0.14, 0.15, 0.01  # of time; LBS: of those episodes
EPISODE_S = (120.0, 600.0)
JITTER_SHARE = 0.05  # of the error's standard deviation: independent from fix to fix
GPS_ACCURACY_M = {"outdoor": (3.0, 12.0), "indoor": (6.0, 25.0)}
WIFI_ACCURACY_M, LBS_ACCURACY_M = (30.0, 80.0), (200.0, 1000.0)
_GPS, _LBS, _WIFI = (SOURCES.index(name) for name in ("GPS", "LBS", "WIFI"))


def resample_world(plan: WorldPlan, interval_s: int, *, correlation_s: float = 60.0, seed: int = 0,
                   progress: bool = False) -> World:
    """``plan``'s world with trails drawn every ``interval_s`` seconds (see the module docstring); the crimes
    and the truth are the plan's, identical at every interval. Same plan, seed and interval: same trails."""
    return world_with_trails(plan, resampled_trails(plan, interval_s, correlation_s=correlation_s, seed=seed,
                                                    progress=progress))


def resampled_trails(plan: WorldPlan, interval_s: int, *, correlation_s: float = 60.0, seed: int = 0,
                     progress: bool = False) -> pd.DataFrame:
    """The trails of :func:`resample_world`: subject_id, timestamp (UTC), lat, lon, accuracy_m, source, sorted
    by subject and time."""
    if int(interval_s) != interval_s or interval_s < 1:
        raise InputError(f"the fix interval must be a whole number of seconds, 1 or more, not {interval_s!r}")
    if not correlation_s > 0:
        raise InputError(f"correlation_s must be > 0, got {correlation_s!r}")
    protected = protected_spans(plan.drafts)
    parts = []
    for index, subject_plan in enumerate(tqdm(plan.plans, desc=f"trails every {interval_s} s", unit="subject",
                                              disable=not progress)):
        rng = np.random.default_rng([seed, index])  # the subject's own draws: the same at every interval
        spans = protected.get(subject_plan.subject.subject_id, [])
        parts.append(_subject_trail(rng, subject_plan, spans, plan.t_start, plan.t_end, int(interval_s),
                                    correlation_s))
    ids = [p.subject.subject_id for p in plan.plans]
    sizes = [len(p["t"]) for p in parts]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return pd.DataFrame({
        "subject_id": pd.Categorical.from_codes(np.repeat(np.arange(len(ids), dtype=np.int32), sizes),
                                                categories=ids),
        "timestamp": pd.to_datetime(cols["t"], unit="s", utc=True).astype("datetime64[ns, UTC]"),
        "lat": cols["lat"], "lon": cols["lon"], "accuracy_m": cols["accuracy_m"],
        "source": pd.Categorical.from_codes(cols["source"], categories=list(SOURCES)),
    })


def error_process(rng: np.random.Generator, n: int, correlation_s: float, rows: int = 1) -> np.ndarray:
    """``rows`` unit GPS error processes sampled every second for ``n`` seconds ((rows, n)): each sample
    N(0, 1); a smooth part (white noise through two first-order filters of time constant ``correlation_s``:
    correlation ``(1 + dt / T) exp(-dt / T)`` at lag ``dt``) plus independent jitter of standard deviation
    :data:`JITTER_SHARE`. Fixes a second apart then differ by about 0.07 of the error's scale (1 m/s of
    apparent wander for a 10 m accuracy), fixes minutes apart by all of it."""
    a = np.exp(-1.0 / correlation_s)
    gain = np.sqrt((1.0 - a * a) ** 3 / (1.0 + a * a))  # unit variance of the double-pole filter's output
    warm_up = int(10 * correlation_s)  # start in the stationary state
    smooth = lfilter([gain], np.convolve([1.0, -a], [1.0, -a]), rng.standard_normal((rows, n + warm_up)),
                     axis=1)[:, warm_up:]
    return np.sqrt(1.0 - JITTER_SHARE ** 2) * smooth + JITTER_SHARE * rng.standard_normal((rows, n))


def _spans(rng: np.random.Generator, start: float, end: float, per_day: float,
           length_s: tuple[float, float]) -> np.ndarray:
    """Random spans of time ((k, 2) UTC seconds): a Poisson number, ``per_day`` a day on average."""
    count = rng.poisson(per_day * (end - start) / 86400.0)
    a = rng.uniform(start, end, count)
    return np.column_stack([a, a + rng.uniform(*length_s, count)])


def _in_spans(t: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Which times ``t`` lie in any of ``spans`` ((k, 2), any order, may overlap)."""
    if len(spans) == 0:
        return np.zeros(len(t), dtype=bool)
    order = np.argsort(spans[:, 0])
    starts, ends = spans[order, 0], np.maximum.accumulate(spans[order, 1])
    last = np.searchsorted(starts, t, side="right") - 1
    return (last >= 0) & (t <= ends[np.maximum(last, 0)])


def _clear_of(spans: np.ndarray, protected: list[tuple[float, float]]) -> np.ndarray:
    """The spans that overlap none of the ``protected`` ones."""
    keep = np.ones(len(spans), dtype=bool)
    for a, b in protected:
        keep &= (spans[:, 1] < a) | (spans[:, 0] > b)
    return spans[keep]


def _subject_trail(rng: np.random.Generator, plan: Plan, protected: list[tuple[float, float]], t_start: float,
                   t_end: float, interval_s: int, correlation_s: float) -> dict[str, np.ndarray]:
    """One subject's fixes: times (UTC s), lat/lon, accuracy and source code."""
    # everything drawn in continuous time first, in a fixed order, so it does not depend on the interval
    seconds = int(t_end - t_start)
    error_x, error_y, drift = error_process(rng, seconds, correlation_s, rows=3)
    days_gaps = [_clear_of(_spans(rng, t_start, t_end, per_day, length), protected)
                 for per_day, length in GAPS_PER_DAY]
    mean_episode = float(np.mean(EPISODE_S))
    indoor_episodes = _clear_of(_spans(rng, t_start, t_end, INDOOR_FALLBACK_SHARE * 86400.0 / mean_episode,
                                       EPISODE_S), protected)
    indoor_is_lbs = rng.random(len(indoor_episodes)) < INDOOR_LBS_SHARE
    outdoor_episodes = _clear_of(_spans(rng, t_start, t_end, OUTDOOR_LBS_SHARE * 86400.0 / mean_episode,
                                        EPISODE_S), protected)
    phase = int(rng.integers(interval_s))
    fallback_draws = np.random.default_rng(rng.integers(2 ** 63))  # per-fix draws, after the shared ones

    k = np.arange((seconds - phase + interval_s - 1) // interval_s, dtype=np.int64)
    t = t_start + phase + k * interval_s
    if interval_s >= 10:
        t = np.clip(t + fallback_draws.integers(-2, 3, len(t)), t_start, t_start + seconds - 1)
    second = (t - t_start).astype(np.int64)
    kt, kx, ky, kin = knots(plan)
    seg = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    dt = kt[seg + 1] - kt[seg]
    moving = np.hypot(kx[seg + 1] - kx[seg], ky[seg + 1] - ky[seg]) > 0.5 * np.maximum(dt, 1e-9)
    indoor = kin[seg] & ~moving

    in_indoor = _in_spans(t, indoor_episodes)
    indoor_lbs = _in_spans(t, indoor_episodes[indoor_is_lbs])
    lbs = (indoor & indoor_lbs) | (~indoor & _in_spans(t, outdoor_episodes))
    wifi = indoor & in_indoor & ~indoor_lbs
    fallback = lbs | wifi
    slot = max(FALLBACK_EVERY_S // interval_s, 1)
    keep = ~np.any([_in_spans(t, gaps) for gaps in days_gaps], axis=0) & (~fallback | (k % slot == 0))
    t, second, indoor, lbs, wifi = t[keep], second[keep], indoor[keep], lbs[keep], wifi[keep]
    n = len(t)

    lo = np.where(indoor, GPS_ACCURACY_M["indoor"][0], GPS_ACCURACY_M["outdoor"][0])
    hi = np.where(indoor, GPS_ACCURACY_M["indoor"][1], GPS_ACCURACY_M["outdoor"][1])
    accuracy = lo + (hi - lo) * ndtr(drift[second])
    ex, ey = error_x[second], error_y[second]
    fallback = lbs | wifi
    if fallback.any():
        m = int(fallback.sum())
        band = np.where(lbs[fallback][:, None], LBS_ACCURACY_M, WIFI_ACCURACY_M)
        accuracy[fallback] = fallback_draws.uniform(band[:, 0], band[:, 1])
        ex[fallback], ey[fallback] = fallback_draws.standard_normal((2, m))
    accuracy = np.round(accuracy, 1)
    x = np.interp(t, kt, kx) + ex * accuracy * SIGMA_PER_ACCURACY
    y = np.interp(t, kt, ky) + ey * accuracy * SIGMA_PER_ACCURACY
    lon, lat = transform(x, y, BNG, WGS84)
    source = np.full(n, _GPS, dtype=np.int8)
    source[lbs], source[wifi] = _LBS, _WIFI
    return {"t": t.astype(np.int64), "lat": np.round(lat, 7), "lon": np.round(lon, 7), "accuracy_m": accuracy,
            "source": source}
