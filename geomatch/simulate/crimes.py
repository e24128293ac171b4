"""Crimes for the world generator: recorded windows, offenders' crimes, planted innocent coincidences, the
crimes of untagged people, and the geocoding error of recorded locations.

Every crime is first a :class:`CrimeDraft` with its true place and its window in UTC seconds. Offenders' crimes
are excursions inserted into their plans (they go to the scene, stop near it, and leave quickly). Innocent
coincidences are read off the finished plans (the subject is next door, passing, or in a shop nearby while the
crime happens) and never change them. The place a crime is recorded at is its true place plus a geocoding error
(:func:`geocode_error`). All distances are metres in British National Grid, all times UTC seconds since the epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

from geomatch.simulate.plans import (DRIVE_MPS, Plan, Stay, Subject, Trip, insert_excursion, local_day, local_hours,
                                     local_to_utc, pass_point, route_length_m)
from geomatch.simulate.town import Door, Town, street_point

ROUND_S = 300  # recorded windows are rounded outwards to 5 minutes

# ---- recorded windows -----------------------------------------------------------------------------------------

SHORT_WINDOW_MIN = {  # (shortest, longest) window in minutes when the time is known closely
    "robbery_personal": (5, 30), "robbery_business": (5, 20), "theft_from_person": (5, 30),
    "aggravated_burglary": (10, 45), "burglary_residential": (20, 180), "burglary_business": (15, 120),
    "theft_from_vehicle": (30, 480), "theft_of_vehicle": (30, 480), "vehicle_interference": (30, 300),
    "aggravated_vehicle_taking": (30, 360),
}
_VEHICLE_KINDS = {"overnight": 0.6, "short": 0.4}
WINDOW_KINDS = {  # how each offence's window is usually recorded
    "burglary_residential": {"overnight": 0.35, "workday": 0.30, "short": 0.25, "away": 0.10},
    "burglary_business": {"overnight": 0.6, "short": 0.4},
    "theft_from_vehicle": _VEHICLE_KINDS, "theft_of_vehicle": _VEHICLE_KINDS, "vehicle_interference": _VEHICLE_KINDS,
}
OVERNIGHT_H = {  # (evening from, evening to), (morning from, morning to) in local hours
    "burglary_residential": ((21.0, 23.5), (6.5, 8.0)),
    "burglary_business": ((17.0, 19.0), (7.0, 9.0)),
}
_VEHICLE_NIGHT = ((18.0, 23.5), (6.0, 8.5))


def draw_window(rng: np.random.Generator, offence: str, t0: float, t1: float) -> tuple[float, float]:
    """A recorded window (UTC seconds, rounded outwards to 5 minutes) that contains ``[t0, t1]``.

    Burglary and vehicle windows are often overnight or a working day (some over 12 hours); robbery and theft
    from the person are minutes. A kind that cannot contain ``[t0, t1]`` falls back to a short window.
    """
    kinds = WINDOW_KINDS.get(offence, {"short": 1.0})
    kind = str(rng.choice(list(kinds), p=list(kinds.values())))
    window = None
    if kind == "overnight":
        (e0, e1), (m0, m1) = OVERNIGHT_H.get(offence, _VEHICLE_NIGHT)
        night = local_day(t0) - timedelta(days=0 if local_hours(t0) >= 12.0 else 1)
        window = local_to_utc(night, rng.uniform(e0, e1)), local_to_utc(night + timedelta(days=1), rng.uniform(m0, m1))
    elif kind == "workday":
        day = local_day(t0)
        window = local_to_utc(day, rng.uniform(6.75, 9.0)), local_to_utc(day, rng.uniform(16.5, 19.75))
    elif kind == "away":
        day = local_day(t0) - timedelta(days=int(rng.integers(2)))
        window = (local_to_utc(day, rng.uniform(8.0, 18.0)),
                  local_to_utc(day + timedelta(days=1), rng.uniform(8.0, 20.0)))
    if window is None or not window[0] <= t0 <= t1 <= window[1]:
        lo, hi = SHORT_WINDOW_MIN[offence]
        need = t1 - t0
        length = max(rng.uniform(lo, hi) * 60.0, need + 120.0)
        start = t0 - rng.uniform(0.0, length - need)
        window = start, start + length
    return math.floor(window[0] / ROUND_S) * ROUND_S, math.ceil(window[1] / ROUND_S) * ROUND_S


# ---- drafts ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CrimeDraft:
    """A crime before it gets its reference. ``x``/``y``: the true place (the burgled house's door, the car, the
    spot of a street robbery), before geocoding error. ``subject_id``/``scenario`` are set for planted crimes;
    ``near_from``/``near_to`` is when the subject was at or passing the scene; ``distance_m`` how close to the
    true place the subject was (an offender: where he stood while committing it)."""

    offence: str
    x: float
    y: float
    t_from: float
    t_to: float
    subject_id: str | None = None
    scenario: str | None = None
    near_from: float | None = None
    near_to: float | None = None
    distance_m: float | None = None


ACT_HOURS = {  # local hours in which offenders commit each offence
    "burglary_residential": ((9.0, 17.0), (19.0, 24.0), (0.0, 5.0)),
    "burglary_business": ((20.0, 24.0), (0.0, 5.0)),
    "aggravated_burglary": ((19.0, 24.0), (0.0, 3.0)),
    "theft_from_vehicle": ((22.0, 24.0), (0.0, 5.0), (10.0, 16.0)),
    "theft_of_vehicle": ((22.0, 24.0), (0.0, 5.0), (10.0, 16.0)),
    "vehicle_interference": ((22.0, 24.0), (0.0, 5.0), (10.0, 16.0)),
    "aggravated_vehicle_taking": ((22.0, 24.0), (0.0, 5.0)),
    "robbery_personal": ((10.0, 24.0), (0.0, 1.0)),
    "robbery_business": ((10.0, 22.0),),
    "theft_from_person": ((10.0, 24.0),),
}
DWELL_MIN = {  # minutes an offender stops at the scene
    "burglary_residential": (5, 25), "burglary_business": (5, 25), "aggravated_burglary": (5, 20),
    "theft_from_vehicle": (2, 10), "theft_of_vehicle": (2, 10), "vehicle_interference": (2, 10),
    "aggravated_vehicle_taking": (2, 10), "robbery_personal": (1, 5), "robbery_business": (1, 5),
    "theft_from_person": (1, 5),
}
OFFENDER_STYLES = (  # offence mixes of burglars, vehicle thieves and street robbers
    {"burglary_residential": 0.6, "burglary_business": 0.15, "aggravated_burglary": 0.05, "theft_from_vehicle": 0.2},
    {"theft_from_vehicle": 0.45, "theft_of_vehicle": 0.25, "vehicle_interference": 0.15,
     "aggravated_vehicle_taking": 0.1, "burglary_residential": 0.05},
    {"robbery_personal": 0.4, "theft_from_person": 0.35, "robbery_business": 0.1, "theft_from_vehicle": 0.15},
)
OFFENDER_RATE_PER_DAY = 0.35
_STOLEN_CAR = {"theft_of_vehicle", "aggravated_vehicle_taking"}
_VEHICLE_SPOT = ("along", (1.0, 5.0))
_STREET_SPOT = ("along", (5.0, 25.0))
_PREMISES_SPOT = ("behind", (10.0, 30.0))
OFFENDER_SPOT_M = {  # where an offender stops, from the crime's true place: how, (shortest, longest) metres
    "burglary_residential": _PREMISES_SPOT, "burglary_business": _PREMISES_SPOT,
    "aggravated_burglary": _PREMISES_SPOT, "robbery_business": ("behind", (5.0, 20.0)),
    "theft_from_vehicle": _VEHICLE_SPOT, "theft_of_vehicle": _VEHICLE_SPOT, "vehicle_interference": _VEHICLE_SPOT,
    "aggravated_vehicle_taking": _VEHICLE_SPOT, "robbery_personal": _STREET_SPOT, "theft_from_person": _STREET_SPOT,
}


def _choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    return str(rng.choice(list(weights), p=np.array(list(weights.values())) / sum(weights.values())))


def _in_hours(t: float, spans: tuple[tuple[float, float], ...]) -> bool:
    h = local_hours(t)
    return any(lo <= h < hi for lo, hi in spans)


SCENE_PLACES = {"burglary_residential": ("home",), "aggravated_burglary": ("home",),
                "burglary_business": ("shop", "work"), "robbery_business": ("shop",)}


def scene_for(rng: np.random.Generator, town: Town, offence: str, near: Door, reach_m: tuple[float, float],
              avoid: list[Door]) -> Door | None:
    """A scene for ``offence`` between ``reach_m`` metres of ``near``, at least 250 m from every door in
    ``avoid`` (the offender's routine places): an address for burglaries, a kerb or pavement otherwise."""
    if offence in SCENE_PLACES:
        places = [town.places(k) for k in SCENE_PLACES[offence]]
        x = np.concatenate([p.x for p in places])
        y = np.concatenate([p.y for p in places])
        d = np.hypot(x - near[0], y - near[1])
        ok = (d >= reach_m[0]) & (d <= reach_m[1])
        for door in avoid:
            ok &= np.hypot(x - door[0], y - door[1]) > 250.0
        if not ok.any():
            return None
        i = int(rng.choice(np.flatnonzero(ok)))
        for p in places:
            if i < len(p):
                return p.end(i)
            i -= len(p)
    angle, dist = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(*reach_m)
    scene = street_point(rng, town, np.array(near[:2]) + dist * np.array([np.cos(angle), np.sin(angle)]), 20.0)
    if any(math.hypot(scene[0] - d[0], scene[1] - d[1]) <= 250.0 for d in avoid):
        return None
    return scene


def offender_spot(rng: np.random.Generator, scene: Door, offence: str) -> Door:
    """Where the offender stops while committing ``offence`` at ``scene`` (the true place), as a route end on the
    scene's street: inside or behind the premises for burglaries and shop robberies (10-30 m, 5-20 m for a shop
    robbery, away from the street within 60 degrees of straight back), beside the car at the kerb for vehicle
    crime (1-5 m along the street), along the pavement for street robbery and theft from the person (5-25 m)."""
    how, (lo, hi) = OFFENDER_SPOT_M[offence]
    x, y, on_h, street = scene
    d = rng.uniform(lo, hi)
    if how == "along":
        step = d * rng.choice([-1.0, 1.0])
        return (x + step, y, on_h, street) if on_h else (x, y + step, on_h, street)
    away = math.copysign(1.0, (y if on_h else x) - street)
    angle = rng.uniform(-np.pi / 3.0, np.pi / 3.0)
    back, side = d * math.cos(angle) * away, d * math.sin(angle)
    return (x + side, y + back, on_h, street) if on_h else (x + back, y + side, on_h, street)


def plant_committed(rng: np.random.Generator, town: Town, plan: Plan, days: int, *, forced_act: float | None = None,
                    forced_offence: str | None = None) -> list[CrimeDraft]:
    """Offender crimes: excursions from a stay at home or leisure to a scene the subject does not otherwise visit.

    With ``forced_act`` one crime is planted with the offender arriving at that instant (used for the autumn
    clock change)."""
    subject = plan.subject
    style = OFFENDER_STYLES[int(subject.subject_id[1:]) % len(OFFENDER_STYLES)]
    n = 1 if forced_act is not None else int(rng.poisson(OFFENDER_RATE_PER_DAY * days))
    drafts = []
    for _ in range(n):
        offence = forced_offence or _choose(rng, style)
        for _attempt in range(40):
            draft = _try_excursion(rng, town, plan, subject, offence, forced_act)
            if draft is not None:
                drafts.append(draft)
                break
    return drafts


def _try_excursion(rng, town: Town, plan: Plan, subject: Subject, offence: str,
                   forced_act: float | None) -> CrimeDraft | None:
    stays = [(i, s) for i, s in plan.stays() if s.kind in ("home", "leisure") and s.t1 - s.t0 > 3600.0]
    if forced_act is not None:
        stays = [(i, s) for i, s in stays if s.t0 + 3600.0 < forced_act < s.t1 - 3600.0]
    if not stays:
        return None
    i, stay = stays[int(rng.integers(len(stays)))]
    drive = subject.has_car and rng.random() < 0.5
    scene = scene_for(rng, town, offence, stay.door, (500.0, 3500.0) if drive else (300.0, 1500.0),
                      subject.routine_doors())
    if scene is None:
        return None
    spot = offender_spot(rng, scene, offence)
    out_mps = rng.uniform(*DRIVE_MPS) if drive else rng.uniform(1.2, 1.6)
    stolen = offence in _STOLEN_CAR
    back_mps = rng.uniform(11.0, 16.0) if (drive or stolen) else rng.uniform(2.0, 3.0)  # leaves quickly
    dwell = rng.uniform(*DWELL_MIN[offence]) * 60.0
    out_s = route_length_m(town, stay.door, spot) / out_mps
    back_s = route_length_m(town, spot, stay.door) / back_mps
    lo, hi = stay.t0 + out_s + 600.0, stay.t1 - dwell - back_s - 600.0
    if forced_act is not None:
        arrive = forced_act
    elif hi > lo:
        arrive = rng.uniform(lo, hi)
    else:
        return None
    if not lo <= arrive <= hi or (forced_act is None and not _in_hours(arrive, ACT_HOURS[offence])):
        return None
    t_from, t_to = draw_window(rng, offence, arrive, arrive + dwell)
    if not plan.spans(t_from, t_to):
        return None
    at = insert_excursion(town, plan, i, spot, arrive, dwell, out_mps, back_mps,
                          "drive" if drive else "walk", "drive" if (drive or stolen) else "run")
    return CrimeDraft(offence, scene[0], scene[1], t_from, t_to, subject.subject_id, "committed", at.t0, at.t1,
                      math.hypot(spot[0] - scene[0], spot[1] - scene[1]))


# ---- innocent coincidences ------------------------------------------------------------------------------------

SCENARIO_RATE_PER_WEEK = {"home_next_door": 0.6, "daily_route": 0.5, "drive_by": 0.55, "shop_stop": 0.6,
                          "workplace_nearby": 0.5}
SCENARIO_OFFENCES = {
    "home_next_door": {"burglary_residential": 0.45, "theft_from_vehicle": 0.2, "theft_of_vehicle": 0.1,
                       "vehicle_interference": 0.15, "robbery_personal": 0.1},
    "daily_route": {"robbery_personal": 0.2, "theft_from_person": 0.2, "burglary_residential": 0.3,
                    "theft_from_vehicle": 0.2, "vehicle_interference": 0.1},
    "drive_by": {"burglary_residential": 0.3, "theft_from_vehicle": 0.25, "robbery_personal": 0.2,
                 "theft_of_vehicle": 0.15, "aggravated_vehicle_taking": 0.1},
    "shop_stop": {"theft_from_vehicle": 0.3, "theft_from_person": 0.25, "robbery_personal": 0.15,
                  "robbery_business": 0.1, "burglary_business": 0.2},
    "workplace_nearby": {"burglary_business": 0.35, "theft_from_vehicle": 0.35, "theft_of_vehicle": 0.15,
                         "vehicle_interference": 0.15},
}
_STAY_SCENARIOS = {  # kind of stay, bands (metres from the subject's door to the crime's true place), one drawn evenly
    "home_next_door": ("home", ((15.0, 30.0), (30.0, 80.0))),  # the house next door, or a few doors along
    "shop_stop": ("shop", ((10.0, 30.0), (30.0, 60.0))),  # the shop next door in the parade, or a few along
    "workplace_nearby": ("work", ((40.0, 100.0),)),
}
PASS_OFFSET_BANDS_M = ((5.0, 15.0), (15.0, 30.0))  # a crime beside a route: the kerb or pavement, or a house


def _band_distance(rng: np.random.Generator, bands: tuple[tuple[float, float], ...]) -> float:
    return float(rng.uniform(*bands[int(rng.integers(len(bands)))]))


def plant_innocent(rng: np.random.Generator, plan: Plan, days: int, fix_interval_s: float) -> list[CrimeDraft]:
    """Crimes the subject did not commit but was near: next door at home, on a daily route, driving by,
    in a shop nearby, at work nearby. The plan is not changed. Passing points lie on straight stretches at least
    one fix interval's travel from a corner, so the straight line between fixes passes them too."""
    drafts = []
    for scenario, rate in SCENARIO_RATE_PER_WEEK.items():
        for _ in range(int(rng.poisson(rate * days / 7.0))):
            offence = _choose(rng, SCENARIO_OFFENCES[scenario])
            for _attempt in range(25):
                if scenario in _STAY_SCENARIOS:
                    draft = _near_stay(rng, plan, scenario, offence)
                else:
                    draft = _on_trip(rng, plan, scenario, offence, fix_interval_s)
                if draft is not None:
                    drafts.append(draft)
                    break
    return drafts


def _near_stay(rng, plan: Plan, scenario: str, offence: str) -> CrimeDraft | None:
    kind, bands = _STAY_SCENARIOS[scenario]
    stays = [s for _, s in plan.stays(kind) if s.t1 - s.t0 >= (3600.0 if kind == "home" else 300.0)]
    if not stays:
        return None
    stay: Stay = stays[int(rng.integers(len(stays)))]
    anchor = rng.uniform(stay.t0, stay.t1)
    t_from, t_to = draw_window(rng, offence, anchor, anchor)
    if not plan.spans(t_from, t_to) or (kind == "home" and not stay.t0 <= t_from < t_to <= stay.t1):
        return None  # outside the simulated span, or not at home the whole window
    angle, dist = rng.uniform(0.0, 2.0 * np.pi), _band_distance(rng, bands)
    x, y = stay.door[0] + dist * np.cos(angle), stay.door[1] + dist * np.sin(angle)
    if kind in ("home", "shop"):  # a house or shop along the same side of the street
        along = rng.choice([-1.0, 1.0]) * dist
        x, y = (stay.door[0] + along, stay.door[1]) if stay.door[2] else (stay.door[0], stay.door[1] + along)
    return CrimeDraft(offence, x, y, t_from, t_to, plan.subject.subject_id, scenario,
                      max(stay.t0, t_from), min(stay.t1, t_to), dist)


def _on_trip(rng, plan: Plan, scenario: str, offence: str, fix_interval_s: float) -> CrimeDraft | None:
    if scenario == "daily_route":  # journeys between home and work or a usual shop, made again and again
        trips = [t for t in plan.trips() if {t.origin, t.dest} in ({"home", "work"}, {"home", "shop"})]
    else:  # driving past at 10-15 m/s
        trips = [t for t in plan.trips() if t.mode == "drive" and t.speed_mps >= 10.0]
    if not trips:
        return None
    trip: Trip = trips[int(rng.integers(len(trips)))]
    passing = pass_point(rng, trip, max(60.0, trip.speed_mps * fix_interval_s))
    if passing is None:
        return None
    x, y, t_pass, direction = passing
    offset = _band_distance(rng, PASS_OFFSET_BANDS_M) * rng.choice([-1.0, 1.0])
    x, y = x - direction[1] * offset, y + direction[0] * offset  # a house or parked car beside the road
    t_from, t_to = draw_window(rng, offence, t_pass, t_pass)
    if not plan.spans(t_from, t_to):
        return None
    near = 100.0 / trip.speed_mps
    return CrimeDraft(offence, x, y, t_from, t_to, plan.subject.subject_id, scenario, t_pass - near, t_pass + near,
                      abs(offset))


# ---- the autumn clock change ----------------------------------------------------------------------------------

def autumn_changes(days: list[date]) -> list[date]:
    """Days on which UK clocks go back (the local hour 01:00-02:00 happens twice)."""
    return [d for d in days
            if local_to_utc(d + timedelta(days=1), 0.0) - local_to_utc(d, 0.0) > 86400.0]


def plant_clock_change(rng: np.random.Generator, town: Town, plans: list[Plan], day: date) -> list[CrimeDraft]:
    """Crimes whose local window bounds fall in the repeated hour 01:00-02:00 of ``day``.

    One is committed by an offender who arrives during the second 01:xx (GMT), so reading the local times
    as BST would miss him; two are by untagged people, with an ambiguous end and an ambiguous window."""
    second_one_am = local_to_utc(day, 0.0) + 2 * 3600.0  # 01:00 GMT, after the clocks went back
    drafts: list[CrimeDraft] = []
    for plan in [p for p in plans if p.subject.is_offender]:
        committed = plant_committed(rng, town, plan, 1, forced_act=second_one_am + rng.uniform(300.0, 1200.0),
                                    forced_offence="theft_from_vehicle")
        if committed:
            c = committed[0]
            lo = max(second_one_am, c.near_from - rng.uniform(5, 15) * 60.0)  # both bounds in the second 01:xx
            hi = c.near_to + rng.uniform(5, 15) * 60.0
            drafts.append(replace(c, t_from=math.floor(lo / ROUND_S) * ROUND_S, t_to=math.ceil(hi / ROUND_S) * ROUND_S))
            break
    first_one_am = second_one_am - 3600.0  # 01:00 BST
    for offence, t_from, t_to in (("vehicle_interference", first_one_am - 3 * 3600.0, second_one_am + 1800.0),
                                  ("robbery_personal", first_one_am + 1200.0, first_one_am + 2100.0)):
        x, y, _, _ = street_point(rng, town, town.centres[0], 600.0)
        drafts.append(CrimeDraft(offence, x, y, t_from, t_to))
    return drafts


# ---- crimes by untagged people --------------------------------------------------------------------------------

BACKGROUND_MIX = {
    "burglary_residential": 0.25, "theft_from_vehicle": 0.22, "vehicle_interference": 0.10,
    "theft_of_vehicle": 0.10, "burglary_business": 0.10, "theft_from_person": 0.09, "robbery_personal": 0.08,
    "robbery_business": 0.02, "aggravated_burglary": 0.02, "aggravated_vehicle_taking": 0.02,
}


def background_rate_per_day(n_subjects: int) -> float:
    """Crimes by untagged people per day (grows a little with the size of the tagged cohort's force)."""
    return 30.0 + 0.1 * n_subjects


def plant_background(rng: np.random.Generator, town: Town, start: float, end: float, n: int) -> list[CrimeDraft]:
    """``n`` crimes by untagged people at places and times typical of each offence."""
    drafts = []
    while len(drafts) < n:
        offence = _choose(rng, BACKGROUND_MIX)
        anchor = rng.uniform(start, end)
        if not _in_hours(anchor, ACT_HOURS[offence]) and rng.random() > 0.25:
            continue
        t_from, t_to = draw_window(rng, offence, anchor, anchor)
        if t_from < start or t_to > end:
            continue
        if offence in ("burglary_residential", "aggravated_burglary"):
            x, y, _, _ = town.homes.end(int(rng.integers(len(town.homes))))
        elif offence in ("burglary_business", "robbery_business"):
            places = town.shops if rng.random() < 0.6 else town.works
            x, y, _, _ = places.end(int(rng.integers(len(places))))
        elif offence in ("robbery_personal", "theft_from_person") and rng.random() < 0.7:
            x, y, _, _ = street_point(rng, town, town.centres[int(rng.integers(len(town.centres)))], 400.0)
        else:
            home = town.homes.end(int(rng.integers(len(town.homes))))
            x, y, _, _ = street_point(rng, town, np.array(home[:2]), 30.0)
        drafts.append(CrimeDraft(offence, x, y, t_from, t_to))
    return drafts


# ---- where crimes are recorded --------------------------------------------------------------------------------

GEOCODE_SIGMA_M = 12.0  # per axis, for a crime geocoded to its address point or street
CENTROID_SHARE = 0.2  # crimes geocoded to a postcode centroid
CENTROID_M = (30.0, 60.0)


def geocode_error(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (metres east, metres north) from each of ``n`` crimes' true places to where they are recorded.

    80 % are geocoded to the address point or the street: a 2-D normal with sigma 12 m per axis (distance
    Rayleigh: median 14 m, 95 % within 29 m, clipped at 60 m); 20 % to a postcode centroid: 30-60 m away
    (uniform). The direction is uniform. Overall median about 17 m, 10-40 m typical.
    """
    centroid = rng.random(n) < CENTROID_SHARE
    distance = np.where(centroid, rng.uniform(*CENTROID_M, n),
                        np.minimum(rng.rayleigh(GEOCODE_SIGMA_M, n), CENTROID_M[1]))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    return distance * np.cos(angle), distance * np.sin(angle)


FREE_TEXT = {
    "burglary_residential": ("Rear door forced, jewellery and laptop taken.", "Insecure window, handbag stolen.",
                             "Front door lock snapped, car keys taken.", "Side gate climbed, shed and house entered."),
    "burglary_business": ("Shutter forced overnight, cash tin taken.", "Rear fire door jemmied, stock removed.",
                          "Skylight smashed, tools stolen."),
    "aggravated_burglary": ("Occupant threatened with a knife, cash demanded.",),
    "robbery_personal": ("Victim approached on foot, phone snatched under threat.",
                         "Two males demanded a wallet, victim pushed over."),
    "robbery_business": ("Male entered the shop, demanded cash from the till.",),
    "theft_from_person": ("Purse taken from an open bag.", "Phone lifted from a back pocket."),
    "theft_from_vehicle": ("Nearside window smashed, bag taken from the seat.", "Catalytic converter cut off.",
                           "Insecure van, power tools stolen."),
    "theft_of_vehicle": ("Vehicle taken from the driveway overnight, keys not taken.", "Relay attack, car gone."),
    "vehicle_interference": ("Male seen trying door handles along the street.",),
    "aggravated_vehicle_taking": ("Car taken and driven dangerously, later abandoned damaged.",),
}


def free_text(rng: np.random.Generator, offence: str) -> str:
    """A short modus operandi note as an officer might write it."""
    texts = FREE_TEXT[offence]
    return texts[int(rng.integers(len(texts)))]
