"""A synthetic UK town for the world generator: a street grid in British National Grid, addresses and routes.

The town is an 8 x 8 km square near Ipswich (EPSG:27700, metres). Streets are straight lines on an irregular
grid (blocks 90-260 m); every place (home, shop, workplace) stands a few metres off one street, and every trip
follows streets: out of the door to the street, along it, round one or two corners, to the destination's door.
The same pair of places always gives the same route, so a subject's daily journeys repeat.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ORIGIN_X_M = 612_000.0
ORIGIN_Y_M = 240_000.0
SIZE_M = 8_000.0
WARD_NAMES = (  # Ipswich's wards, laid out on a 4 x 4 grid from the south-west corner, row by row
    "Sprites", "Stoke Park", "Priory Heath", "Holywells",
    "Gipping", "Bridge", "Alexandra", "Bixley",
    "Whitehouse", "Westgate", "St Margaret's", "Rushmere",
    "Whitton", "Castle Hill", "St John's", "Gainsborough",
)
Door = tuple[float, float, bool, float]  # x, y (BNG metres), on a horizontal street?, the street's coordinate


@dataclass(frozen=True)
class Places:
    """Addresses of one kind. ``x``/``y``: the door (BNG metres); ``on_h``: the street is horizontal (y = const);
    ``street``: that street's coordinate (y for horizontal streets, x for vertical ones)."""

    x: np.ndarray
    y: np.ndarray
    on_h: np.ndarray
    street: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def end(self, i: int) -> Door:
        """Place ``i`` as a route end."""
        return float(self.x[i]), float(self.y[i]), bool(self.on_h[i]), float(self.street[i])


@dataclass(frozen=True)
class Town:
    """Street lines (``xs``: vertical streets' eastings, ``ys``: horizontal streets' northings) and addresses."""

    xs: np.ndarray
    ys: np.ndarray
    homes: Places
    shops: Places
    works: Places
    centres: np.ndarray  # (k, 2) shopping centres, the first is the town centre
    routes: dict = field(default_factory=dict, compare=False, repr=False)  # cache of route(a, b)

    def places(self, kind: str) -> Places:
        return {"home": self.homes, "shop": self.shops, "work": self.works}[kind]


def build_town(rng: np.random.Generator, *, n_homes: int = 6000) -> Town:
    """Draw a town: street grid, homes (denser towards the centre), shops in three centres, workplaces in the
    centre and two industrial estates."""
    xs = _street_lines(rng, ORIGIN_X_M)
    ys = _street_lines(rng, ORIGIN_Y_M)
    centre = np.array([ORIGIN_X_M + SIZE_M / 2, ORIGIN_Y_M + SIZE_M / 2])
    centres = np.array([centre, centre + [-2200.0, 1800.0], centre + [2100.0, -1900.0]])
    estates = np.array([centre + [2600.0, 2300.0], centre + [-2500.0, -2400.0]])

    home_pts = np.where(rng.random((n_homes, 1)) < 0.5, rng.normal(centre, 1800.0, (n_homes, 2)),
                        rng.uniform(ORIGIN_X_M, ORIGIN_X_M + SIZE_M, (n_homes, 2)))
    shop_pts = _cluster_points(rng, centres, counts=(70, 25, 25), spread_m=(280.0, 140.0, 140.0))
    work_pts = np.vstack([_cluster_points(rng, centres[:1], counts=(30,), spread_m=(350.0,)),
                          _cluster_points(rng, estates, counts=(30, 30), spread_m=(300.0, 300.0))])
    return Town(xs, ys,
                homes=_snap_to_streets(rng, home_pts, xs, ys, setback_m=(8.0, 16.0)),
                shops=_snap_to_streets(rng, shop_pts, xs, ys, setback_m=(5.0, 10.0)),
                works=_snap_to_streets(rng, work_pts, xs, ys, setback_m=(10.0, 30.0)),
                centres=centres)


def _street_lines(rng: np.random.Generator, origin: float) -> np.ndarray:
    """Street coordinates from ``origin`` to ``origin + SIZE_M`` with blocks of 90-260 m."""
    gaps = rng.uniform(90.0, 260.0, size=int(SIZE_M / 90.0) + 2)
    lines = origin + np.concatenate([[0.0], np.cumsum(gaps)])
    return lines[lines <= origin + SIZE_M]


def _cluster_points(rng: np.random.Generator, centres: np.ndarray, *, counts: tuple[int, ...],
                    spread_m: tuple[float, ...]) -> np.ndarray:
    return np.vstack([rng.normal(c, s, (n, 2)) for c, n, s in zip(centres, counts, spread_m)])


def _clip(values: np.ndarray, lines: np.ndarray) -> np.ndarray:
    return np.clip(values, lines[0] + 1.0, lines[-1] - 1.0)


def _nearest_line(values: np.ndarray, lines: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(lines, values), 1, len(lines) - 1)
    return np.where(values - lines[i - 1] < lines[i] - values, lines[i - 1], lines[i])


def _snap_to_streets(rng: np.random.Generator, pts: np.ndarray, xs: np.ndarray, ys: np.ndarray, *,
                     setback_m: tuple[float, float]) -> Places:
    """Move each point onto its nearest street, then set it back from the kerb by ``setback_m`` (either side)."""
    px, py = _clip(pts[:, 0], xs), _clip(pts[:, 1], ys)
    near_x, near_y = _nearest_line(px, xs), _nearest_line(py, ys)
    on_h = np.abs(py - near_y) < np.abs(px - near_x)
    setback = rng.uniform(*setback_m, len(px)) * rng.choice([-1.0, 1.0], len(px))
    x = np.where(on_h, px, near_x + setback)
    y = np.where(on_h, near_y + setback, py)
    return Places(x=x, y=y, on_h=on_h, street=np.where(on_h, near_y, near_x))


def street_point(rng: np.random.Generator, town: Town, near: np.ndarray, spread_m: float,
                 kerb_m: tuple[float, float] = (2.0, 5.0)) -> Door:
    """A kerbside point (a parked car, a pavement) on the street nearest to a point drawn around ``near``."""
    place = _snap_to_streets(rng, rng.normal(near, spread_m, (1, 2)), town.xs, town.ys, setback_m=kerb_m)
    return place.end(0)


def route(town: Town, a: Door, b: Door) -> np.ndarray:
    """The street route between two doors, as an (n, 2) polyline in BNG metres.

    The route leaves ``a`` to its street, turns
    once when the streets cross, or twice via the connecting street nearest the midpoint when they are parallel.
    Routes are cached on the town: journeys between the same places repeat.
    """
    if (a, b) not in town.routes:
        town.routes[(a, b)] = _route(town, a, b)
    return town.routes[(a, b)]


def _route(town: Town, a: Door, b: Door) -> np.ndarray:
    ax, ay, a_h, a_s = a
    bx, by, b_h, b_s = b
    a_kerb = (ax, a_s) if a_h else (a_s, ay)
    b_kerb = (bx, b_s) if b_h else (b_s, by)
    if a_h and not b_h:
        corners = [(b_s, a_s)]
    elif b_h and not a_h:
        corners = [(a_s, b_s)]
    elif a_s == b_s:
        corners = []
    elif a_h:
        xc = float(_nearest_line(np.array([(a_kerb[0] + b_kerb[0]) / 2]), town.xs)[0])
        corners = [(xc, a_s), (xc, b_s)]
    else:
        yc = float(_nearest_line(np.array([(a_kerb[1] + b_kerb[1]) / 2]), town.ys)[0])
        corners = [(a_s, yc), (b_s, yc)]
    pts = np.array([(ax, ay), a_kerb, *corners, b_kerb, (bx, by)], dtype=float)
    keep = np.r_[True, np.any(np.diff(pts, axis=0) != 0.0, axis=1)]
    return pts[keep]


def ward_of(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The ward name of each BNG point (a 4 x 4 grid of 2 km squares over the town)."""
    col = np.clip(((np.asarray(x) - ORIGIN_X_M) // (SIZE_M / 4)).astype(int), 0, 3)
    row = np.clip(((np.asarray(y) - ORIGIN_Y_M) // (SIZE_M / 4)).astype(int), 0, 3)
    return np.asarray(WARD_NAMES, dtype=object)[row * 4 + col]
