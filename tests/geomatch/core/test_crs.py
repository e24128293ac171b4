"""WGS84 to British National Grid through the lattice: accurate to a centimetre, and batch-independent."""
from __future__ import annotations

import numpy as np

from geomatch.core.crs import (BNG, LATTICE_MAX_ERROR_M, WGS84, _exact, choose_metric_crs, transform,
                          transform_info)


def test_lattice_is_within_a_centimetre_of_the_exact_transformation():
    rng = np.random.default_rng(1)
    for lon_range, lat_range in (((1.0, 1.3), (51.9, 52.2)), ((-6.0, 1.7), (50.0, 58.5))):  # a town, the country
        lon, lat = rng.uniform(*lon_range, 200_000), rng.uniform(*lat_range, 200_000)
        x, y = transform(lon, lat, WGS84, BNG)
        exact_x, exact_y = _exact(lon, lat, WGS84, BNG)
        assert np.abs(x - exact_x).max() < LATTICE_MAX_ERROR_M
        assert np.abs(y - exact_y).max() < LATTICE_MAX_ERROR_M


def test_a_point_gets_the_same_coordinates_whatever_batch_it_is_in():
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(1.0, 1.3, 50_000), rng.uniform(51.9, 52.2, 50_000)
    whole = transform(lon, lat, WGS84, BNG)
    parts = [transform(lon[i:i + 777], lat[i:i + 777], WGS84, BNG) for i in range(0, len(lon), 777)]
    assert np.array_equal(whole[0], np.concatenate([p[0] for p in parts]))
    assert np.array_equal(whole[1], np.concatenate([p[1] for p in parts]))


def test_parts_compact_and_spread_on_threads_give_each_point_its_own_value(monkeypatch):
    """Many parts (some in a town, interpolated on two threads; one spread over the country; one with missing
    and impossible values) give each point what it gets alone."""
    import geomatch.core.crs as crs

    monkeypatch.setattr(crs, "_LATTICE_CHUNK", 1_000)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(1.0, 1.3, 8_000), rng.uniform(51.9, 52.2, 8_000)
    lon[3_000:4_000], lat[3_000:4_000] = rng.uniform(-6.0, 1.7, 1_000), rng.uniform(50.0, 58.5, 1_000)
    lon[5_010], lat[5_020], lon[5_030], lat[5_040] = np.nan, np.inf, 200.0, -95.0
    x, y = transform(lon, lat, WGS84, BNG)
    alone = [transform(lon[i:i + 1], lat[i:i + 1], WGS84, BNG) for i in range(0, len(lon), 97)]
    assert np.array_equal(x[::97], np.concatenate([a[0] for a in alone]), equal_nan=True)
    assert np.array_equal(y[::97], np.concatenate([a[1] for a in alone]), equal_nan=True)
    for i in (5_010, 5_020, 5_030, 5_040):
        assert np.array_equal((x[i], y[i]), np.ravel(transform(lon[i:i + 1], lat[i:i + 1], WGS84, BNG)),
                              equal_nan=True)


def test_a_few_strays_leave_the_rest_on_the_dense_block_and_every_point_its_own_value(monkeypatch):
    """Points with swapped coordinates (latitude 1, longitude 52) among a town's: the town is interpolated on the
    block around the middle of the points, the strays through their own cells, each point as it is alone; the
    spread-over-a-country path is not taken."""
    import geomatch.core.crs as crs

    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(1.0, 1.3, 20_000), rng.uniform(51.9, 52.2, 20_000)
    lon[[5, 7_000, 19_999]], lat[[5, 7_000, 19_999]] = lat[[5, 7_000, 19_999]], lon[[5, 7_000, 19_999]]
    lon[300], lat[300] = -5.5, 56.0  # and one in Scotland
    spread = []
    monkeypatch.setattr(crs, "_interpolate_chunk", lambda *a, _f=crs._interpolate_chunk: spread.append(len(a[0]))
                        or _f(*a))
    x, y = transform(lon, lat, WGS84, BNG)
    assert 0 < sum(spread) <= 0.05 * len(lon)  # the strays only (and the edges beyond the middle 98 %)
    picked = [5, 300, 7_000, 19_999, *range(0, len(lon), 211)]
    alone = [transform(lon[i:i + 1], lat[i:i + 1], WGS84, BNG) for i in picked]
    assert np.array_equal(x[picked], np.concatenate([a[0] for a in alone]), equal_nan=True)
    assert np.array_equal(y[picked], np.concatenate([a[1] for a in alone]), equal_nan=True)
    exact_x, exact_y = _exact(lon, lat, WGS84, BNG)
    assert np.abs(x - exact_x).max() < LATTICE_MAX_ERROR_M and np.abs(y - exact_y).max() < LATTICE_MAX_ERROR_M


def test_missing_values_stay_missing_and_grid_to_wgs84_is_exact():
    x, y = transform(np.array([np.nan, 1.15]), np.array([52.05, 52.05]), WGS84, BNG)
    assert np.isnan(x[0]) and np.isfinite(x[1])
    lon, lat = transform(np.array([616000.0]), np.array([244000.0]), BNG, WGS84)
    assert np.allclose(_exact(lon, lat, WGS84, BNG), ([616000.0], [244000.0]), atol=1e-6)


def test_metric_crs_is_chosen_from_the_data():
    assert choose_metric_crs(np.array([1.15]), np.array([52.05])) == BNG
    assert choose_metric_crs(np.array([-8.63]), np.array([52.66])) == "EPSG:32629"  # Limerick
    assert choose_metric_crs(np.array([8.54]), np.array([47.37])) == "EPSG:32632"  # Zurich
    info = transform_info()
    assert info.target == BNG and info.description


def test_metric_crs_is_the_median_points_whether_or_not_every_point_is_british():
    ipswich, limerick, nan = (1.15, 52.05), (-8.63, 52.66), (np.nan, np.nan)
    for points, where, expected in [
        ([ipswich] * 3, None, BNG),                             # every point in GB: no median needed
        ([ipswich, ipswich, limerick], None, BNG),              # the median is British, one point is not
        ([ipswich, limerick, limerick], None, "EPSG:32629"),    # the median is Irish
        ([ipswich, limerick, limerick], [True, False, False], BNG),  # only the accepted point counts
        ([ipswich, nan, limerick, limerick], [False, False, True, True], "EPSG:32629"),
    ]:
        lon, lat = (np.array(v, dtype=float) for v in zip(*points))
        given = None if where is None else np.array(where)
        assert choose_metric_crs(lon, lat, where=given) == expected, (points, where)
        assert not np.isnan(lon[0])  # the caller's arrays are left as they were


def test_crs_names_say_what_people_read():
    from geomatch.core.crs import crs_name

    assert crs_name("EPSG:27700") == "British National Grid (EPSG:27700)"
    assert crs_name("EPSG:32630") == "UTM zone 30N (EPSG:32630)"
    assert crs_name("EPSG:32750") == "UTM zone 50S (EPSG:32750)"


def test_the_box_of_finite_points_and_the_points_left_without_a_value():
    from geomatch.core._lattice import finite_box, interpolate_block

    lon = np.array([-1.5, np.nan, -2.0, np.inf, -1.0, -1.2])
    lat = np.array([52.0, 51.0, np.nan, 53.0, 52.5, 52.2])
    assert finite_box(lon, lat) == (3, -1.5, -1.0, 52.0, 52.5)  # a point counts only when both are finite
    assert finite_box(lon[:0], lat[:0])[0] == 0
    nodes = np.zeros(4)
    out_x, out_y = np.full(6, np.nan), np.full(6, np.nan)
    x0, y0 = int(np.floor(-1.5 / 0.5)), int(np.floor(52.0 / 0.5))
    left = interpolate_block(lon[[0, 1]], lat[[0, 1]], 0.5, x0, y0, 2, nodes, nodes, out_x[:2], out_y[:2])
    assert left == 1 and out_x[0] == 0 and np.isnan(out_x[1])  # the missing point is left as it is
    assert interpolate_block(lon[:1], lat[:1], 0.5, x0, y0, 2, np.full(4, np.inf), nodes, out_x[:1],
                             out_y[:1]) == 1  # a corner outside the projection's area: no finite value
    out_x[:] = np.nan
    assert interpolate_block(lon[[0, 4]], lat[[0, 4]], 0.5, x0, y0, 2, nodes, nodes, out_x[:2], out_y[:2]) == 1
    assert out_x[0] == 0 and np.isnan(out_x[1])  # a point whose cell is beyond the block is left as it is


def test_the_box_of_degrees_skips_nan_without_a_warning(recwarn):
    from geomatch.core.crs import finite_box

    lon, lat = np.array([np.nan, -1.5, -1.0, np.inf]), np.array([52.0, np.nan, 52.5, 51.0])
    assert finite_box(lon, lat) == (-1.5, 51.0, np.inf, 52.5)  # each column's NaN skipped, as nanmin did
    nothing = np.array([np.nan, np.nan])
    assert np.isnan(finite_box(nothing, nothing)).all() and np.isnan(finite_box(nothing[:0], nothing[:0])).all()
    assert not recwarn.list
