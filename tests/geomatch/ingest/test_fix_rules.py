"""The compiled per-fix rules give what the rules say, checked against their numpy form on awkward values."""
import numpy as np
import pytest

from geomatch.core.crs import GB_BOUNDS_LONLAT, looks_swapped_gb
from geomatch.ingest import _fix_rules as rules

NAT = np.iinfo(np.int64).min
EARLIEST, LATEST = 10_000, 20_000
MAX_ACCURACY = 100.0


def awkward(n: int, seed: int) -> dict[str, np.ndarray]:
    """Values on and around every rule's edges: NaN, infinities, zero, the globe's and Great Britain's limits."""
    rng = np.random.default_rng(seed)
    edges = np.array([np.nan, 0.0, -0.0, 90, -90, 91, 180, -180, 181, -9, 2, 49.75, 61, 52.1, -1.5, 1e300])
    pick = lambda: np.where(rng.random(n) < 0.5, rng.choice(edges, n), rng.uniform(-200, 200, n))  # noqa: E731
    accuracy = np.where(rng.random(n) < 0.5, rng.choice([np.nan, -1.0, 0.0, 100.0, 100.5, 5.0], n),
                        rng.uniform(-10, 200, n))
    as_given = np.where(rng.random(n) < 0.2, 7.0, accuracy)  # given, yet not a number where accuracy is NaN
    t = rng.choice([NAT, EARLIEST - 1, EARLIEST, LATEST, LATEST + 1, 15_000], n).astype(np.int64)
    return {"lat": pick(), "lon": pick(), "accuracy": accuracy, "as_given": as_given, "t": t}


def numpy_rules(v: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    lat, lon, accuracy, t = v["lat"], v["lon"], v["accuracy"], v["t"]
    missing = np.isnan(lat) | np.isnan(lon)
    swapped = looks_swapped_gb(lon, lat)
    off_globe = (lat > 90) | (lat < -90) | (lon > 180) | (lon < -180)
    return {
        rules.TIME_OUT_OF_RANGE: ((t < EARLIEST) | (t > LATEST)) & (t != NAT),
        rules.MISSING_COORDINATES: missing,
        rules.ZERO_ZERO: (lat == 0) & (lon == 0),
        rules.LAT_LON_SWAPPED: swapped,
        rules.OUT_OF_RANGE_COORDINATES: ~missing & off_globe & ~swapped,
        rules.BAD_ACCURACY: (accuracy < 0) | (~np.isnan(v["as_given"]) & np.isnan(accuracy)),
        rules.ACCURACY_TOO_LARGE: accuracy > MAX_ACCURACY,
    }


def run_kernel(v: dict[str, np.ndarray], *, halves: bool) -> tuple[np.ndarray, int, np.ndarray]:
    n = len(v["t"])
    flags, boxes = np.full(n, 255, dtype=np.uint8), np.empty((2, 4))
    spans = [(0, n // 2), (n // 2, n)] if halves else [(0, n)]
    broken = sum(rules.flag_fixes(v["t"], EARLIEST, LATEST, v["lat"], v["lon"], v["accuracy"], v["as_given"],
                                  MAX_ACCURACY, np.asarray(GB_BOUNDS_LONLAT, float), flags, boxes[i], start, stop)
                 for i, (start, stop) in enumerate(spans))
    box = np.array([boxes[:len(spans), 0].min(), boxes[:len(spans), 1].min(), boxes[:len(spans), 2].max(),
                    boxes[:len(spans), 3].max()])
    return flags, broken, box


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("halves", [False, True])
def test_each_rule_bit_is_the_rule(seed, halves):
    v = awkward(4_001, seed)
    flags, broken, box = run_kernel(v, halves=halves)
    for bit, expected in numpy_rules(v).items():
        np.testing.assert_array_equal((flags & bit) != 0, expected, err_msg=f"bit {bit}")
    assert broken == np.count_nonzero(flags)
    known = ~(np.isnan(v["lat"]) | np.isnan(v["lon"]))
    np.testing.assert_array_equal(box, [v["lon"][known].min(), v["lat"][known].min(), v["lon"][known].max(),
                                        v["lat"][known].max()])


def test_without_coordinates_or_accuracy_only_the_time_rule_is_checked():
    v = awkward(500, 9)
    empty = np.zeros(0)
    flags, box = np.empty(500, dtype=np.uint8), np.empty(4)
    rules.flag_fixes(v["t"], EARLIEST, LATEST, empty, empty, empty, empty, MAX_ACCURACY,
                     np.asarray(GB_BOUNDS_LONLAT, float), flags, box, 0, 500)
    np.testing.assert_array_equal(flags, np.where(numpy_rules(v)[rules.TIME_OUT_OF_RANGE], rules.TIME_OUT_OF_RANGE, 0))
    assert np.isinf(box).all()


@pytest.mark.parametrize("seed", range(20))
def test_order_state_is_the_sort_and_repeat_checks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    codes = np.sort(rng.integers(-1, 3, n)).astype(np.int16)
    t = rng.choice([NAT, 1, 2, 3, 5, 8], n).astype(np.int64)
    if rng.random() < 0.6:  # sorted
        order = np.lexsort((t, codes))
        codes, t = codes[order], t[order]
    same = codes[1:] == codes[:-1]
    is_sorted = bool(((codes[1:] > codes[:-1]) | (same & (t[1:] >= t[:-1]))).all())
    shared = bool((same & (t[1:] == t[:-1]) & (codes[1:] >= 0) & (t[1:] != NAT)).any())
    expected = rules.UNSORTED if not is_sorted else rules.SORTED_WITH_SHARED_INSTANTS if shared else rules.SORTED
    assert rules.order_state(codes, t) == expected
