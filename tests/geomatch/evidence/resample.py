"""Test helper: a trail resampled to one fix a second, as a 1 s tag would send it."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from geomatch.core.crs import WGS84, transform
from geomatch.core.times import utc_ns

_NS = 1_000_000_000


def resample_1s(trails: pd.DataFrame, crs: str, *, max_step_s: float = 300.0, sigma_m: float = 1.5,
                tau_s: float = 30.0, seed: int = 0) -> pd.DataFrame:
    """Accepted fixes (sorted by subject then time, ``x``/``y`` metres in ``crs``) resampled to 1 s.

    Between consecutive fixes at most ``max_step_s`` apart a fix is placed every second along the straight line,
    moved by correlated noise (an AR(1) walk in x and y with standard deviation ``sigma_m`` and correlation time
    ``tau_s``, as a GNSS receiver's error drifts); longer intervals stay gaps. Source and accuracy are those of
    the fix before; latitude and longitude are recomputed from the grid.
    """
    rng = np.random.default_rng(seed)
    t = utc_ns(trails["timestamp"])
    x, y = trails["x"].to_numpy(float), trails["y"].to_numpy(float)
    subject = trails["subject_id"].astype(str).to_numpy()
    dt = np.diff(t)
    same = subject[1:] == subject[:-1]
    fill = same & (dt <= max_step_s * _NS) & (dt > 0)
    counts = np.ones(len(t), dtype=np.int64)  # a fix stands for itself, or for every second up to the next
    counts[:-1][fill] = np.maximum(dt[fill] // _NS, 1)
    row = np.repeat(np.arange(len(t)), counts)
    k = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)  # seconds after the fix
    nxt = np.minimum(row + 1, len(t) - 1)
    frac = np.where(counts[row] > 1, k * _NS / np.where(fill[np.minimum(row, len(dt) - 1)],
                                                          dt[np.minimum(row, len(dt) - 1)], 1), 0.0)
    phi = np.exp(-1.0 / tau_s)
    noise = lfilter([np.sqrt(1 - phi ** 2) * sigma_m], [1.0, -phi], rng.standard_normal((2, len(row))), axis=1)
    nx = x[row] + frac * (x[nxt] - x[row]) + noise[0]
    ny = y[row] + frac * (y[nxt] - y[row]) + noise[1]
    lon, lat = transform(nx, ny, crs, WGS84)
    out = pd.DataFrame({
        "subject_id": trails["subject_id"].to_numpy()[row],
        "timestamp": pd.to_datetime(t[row] + k * _NS, utc=True),
        "x": nx, "y": ny, "lat": lat, "lon": lon,
        "accuracy_m": trails["accuracy_m"].to_numpy()[row],
        "source": trails["source"].to_numpy()[row],
    })
    for column in ("subject_id", "source"):
        if isinstance(trails[column].dtype, pd.CategoricalDtype):
            out[column] = pd.Categorical(out[column], categories=trails[column].cat.categories)
    return out
