"""Subjects and their movements for the world generator: who lives where, and a plan of stays and trips.

A plan is the ground-truth movement of one subject: a time-ordered list of :class:`Stay` (at one place from
``t0`` to ``t1``) and :class:`Trip` (along a street route, vertices with arrival times). Routines are set in UK
local time (people leave for work at 08:00 by the clock, also on the day the clocks change); plans themselves
hold UTC seconds since the epoch. Offenders' crimes are inserted as excursions that interrupt a stay.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from geomatch.core.times import UK_TZ
from geomatch.simulate.town import Door, Town, route

LONDON = ZoneInfo(UK_TZ)
WALK_MPS = (1.2, 1.6)
DRIVE_MPS = (8.0, 15.0)
DRIVE_MIN_M = 800.0  # subjects with a car drive trips longer than this


# ---- clock ----------------------------------------------------------------------------------------------------

def local_to_utc(day: date, hours: float) -> float:
    """UTC seconds of ``hours`` after local midnight of ``day`` on the wall clock (the first reading when
    the autumn hour repeats)."""
    naive = datetime.combine(day, time()) + timedelta(hours=hours)
    return naive.replace(tzinfo=LONDON).timestamp()


def local_hours(t: float) -> float:
    """Local wall-clock hour of day (0-24) of UTC seconds ``t``."""
    dt = datetime.fromtimestamp(t, LONDON)
    return dt.hour + dt.minute / 60.0 + dt.second / 3600.0


def local_day(t: float) -> date:
    return datetime.fromtimestamp(t, LONDON).date()


# ---- subjects -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """A tagged person: places they use and habits. Hours are local wall-clock hours."""

    subject_id: str
    home: Door
    work: Door | None
    workdays: tuple[int, ...]  # weekday numbers, Monday = 0
    work_start_h: float
    work_len_h: float
    shops: tuple[Door, ...]
    leisure: tuple[Door, ...]
    has_car: bool
    is_offender: bool

    def routine_doors(self) -> list[Door]:
        return [self.home, *([self.work] if self.work else []), *self.shops, *self.leisure]


def make_subjects(rng: np.random.Generator, town: Town, n: int) -> list[Subject]:
    """Draw ``n`` subjects; a quarter of them (rounded) are offenders."""
    width = max(3, len(str(n)))
    offender = rng.permutation(n) < round(n / 4)
    home_idx = rng.choice(len(town.homes), size=n, replace=False)
    subjects = []
    for i in range(n):
        home = town.homes.end(int(home_idx[i]))
        employed = rng.random() < (0.35 if offender[i] else 0.72)
        work = town.works.end(int(rng.integers(len(town.works)))) if employed else None
        workdays = (0, 1, 2, 3, 4) if rng.random() < 0.8 else tuple(sorted(rng.choice(7, rng.integers(3, 6),
                                                                                       replace=False).tolist()))
        shift = rng.random() < 0.1
        subjects.append(Subject(
            subject_id=f"S{i + 1:0{width}d}", home=home, work=work, workdays=workdays,
            work_start_h=float(rng.uniform(14.0, 15.5) if shift else rng.uniform(7.0, 9.5)),
            work_len_h=float(rng.uniform(7.5, 9.5)),
            shops=_nearby_doors(rng, town.shops, home, k=int(rng.integers(2, 4)), pool=8),
            leisure=_leisure_doors(rng, town, home, k=int(rng.integers(1, 4))),
            has_car=bool(rng.random() < (0.4 if offender[i] else 0.55)),
            is_offender=bool(offender[i])))
    return subjects


def _nearby_doors(rng, places, near: Door, *, k: int, pool: int) -> tuple[Door, ...]:
    d = np.hypot(places.x - near[0], places.y - near[1])
    nearest = np.argsort(d, kind="stable")[:pool]
    return tuple(places.end(int(i)) for i in rng.choice(nearest, size=k, replace=False))


def _leisure_doors(rng, town: Town, home: Door, *, k: int) -> tuple[Door, ...]:
    """Friends' homes within 2.5 km, or a pub/gym in the town centre."""
    doors = []
    d_home = np.hypot(town.homes.x - home[0], town.homes.y - home[1])
    friends = np.flatnonzero((d_home > 200.0) & (d_home < 2500.0))
    for _ in range(k):
        if rng.random() < 0.6 and len(friends):
            doors.append(town.homes.end(int(rng.choice(friends))))
        else:
            doors.append(town.shops.end(int(rng.integers(70))))  # the first 70 shops are the town centre's
    return tuple(doors)


# ---- plans ----------------------------------------------------------------------------------------------------

@dataclass
class Stay:
    """At ``door`` from ``t0`` to ``t1`` (UTC seconds). ``kind``: home, work, shop, leisure or scene."""

    kind: str
    door: Door
    t0: float
    t1: float


@dataclass
class Trip:
    """Along ``path`` ((n, 2) BNG metres), reaching vertex i at ``times[i]`` (UTC seconds), at ``speed_mps``."""

    path: np.ndarray
    times: np.ndarray
    speed_mps: float
    mode: str  # walk or drive
    origin: str  # kind of the stay left
    dest: str  # kind of the stay reached


@dataclass
class Plan:
    """A subject's movements over the simulated span ``start``-``end`` (UTC seconds; legs may run past the end)."""

    subject: Subject
    start: float
    end: float
    legs: list = field(default_factory=list)  # Stay and Trip, in time order

    def spans(self, t_from: float, t_to: float) -> bool:
        """Whether ``[t_from, t_to]`` lies inside the simulated span."""
        return self.start <= t_from and t_to <= self.end

    def stays(self, kind: str | None = None) -> list[tuple[int, Stay]]:
        return [(i, leg) for i, leg in enumerate(self.legs) if isinstance(leg, Stay) and kind in (None, leg.kind)]

    def trips(self) -> list[Trip]:
        return [leg for leg in self.legs if isinstance(leg, Trip)]


def make_trip(town: Town, a: Door, b: Door, depart: float, speed_mps: float, mode: str, origin: str,
              dest: str) -> Trip:
    path = route(town, a, b)
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(path, axis=0).T))]
    return Trip(path, depart + along / speed_mps, speed_mps, mode, origin, dest)


def route_length_m(town: Town, a: Door, b: Door) -> float:
    return float(np.hypot(*np.diff(route(town, a, b), axis=0).T).sum())


def travel_speed(rng: np.random.Generator, subject: Subject, distance_m: float) -> tuple[float, str]:
    """Speed (m/s) and mode of one trip: drivers drive anything over 800 m, everyone else walks."""
    if subject.has_car and distance_m > DRIVE_MIN_M:
        return float(rng.uniform(*DRIVE_MPS)), "drive"
    return float(rng.uniform(*WALK_MPS)), "walk"


class _PlanBuilder:
    """Appends stays and trips in order; ``go`` waits where the subject is, then travels."""

    def __init__(self, town: Town, rng: np.random.Generator, subject: Subject, start: float, end: float) -> None:
        self.town, self.rng, self.plan = town, rng, Plan(subject, start, end)
        self.at, self.at_kind, self.t = subject.home, "home", start

    def travel_s(self, dest: Door) -> float:
        return route_length_m(self.town, self.at, dest) / (10.0 if self.plan.subject.has_car else 1.4)

    def go(self, dest: Door, kind: str, depart: float) -> None:
        depart = max(depart, self.t + 60.0)
        speed, mode = travel_speed(self.rng, self.plan.subject, route_length_m(self.town, self.at, dest))
        self.plan.legs.append(Stay(self.at_kind, self.at, self.t, depart))
        trip = make_trip(self.town, self.at, dest, depart, speed, mode, self.at_kind, kind)
        self.plan.legs.append(trip)
        self.at, self.at_kind, self.t = dest, kind, float(trip.times[-1])

    def finish(self) -> Plan:
        self.plan.legs.append(Stay(self.at_kind, self.at, self.t, max(self.plan.end, self.t + 60.0)))
        return self.plan


def build_plan(rng: np.random.Generator, town: Town, subject: Subject, days: list[date], end: float) -> Plan:
    """A subject's routine over ``days``: nights at home, work on workdays, shop and leisure visits."""
    b = _PlanBuilder(town, rng, subject, local_to_utc(days[0], 0.0), end)
    for day in days:
        if subject.work is not None and day.weekday() in subject.workdays:
            arrive = local_to_utc(day, subject.work_start_h + rng.normal(0.0, 0.15))
            b.go(subject.work, "work", arrive - b.travel_s(subject.work))
            leave = arrive + 3600.0 * (subject.work_len_h + rng.normal(0.0, 0.2))
            if rng.random() < 0.35:
                b.go(subject.shops[int(rng.integers(len(subject.shops)))], "shop", leave)
                leave = b.t + rng.uniform(5, 25) * 60.0
            b.go(subject.home, "home", leave)
        else:
            depart = local_to_utc(day, rng.uniform(9.5, 12.0))
            for _ in range(int(rng.integers(1, 4))):
                if rng.random() < 0.6:
                    b.go(subject.shops[int(rng.integers(len(subject.shops)))], "shop", depart)
                    stay_s = rng.uniform(5, 40) * 60.0
                else:
                    b.go(subject.leisure[int(rng.integers(len(subject.leisure)))], "leisure", depart)
                    stay_s = rng.uniform(45, 180) * 60.0
                b.go(subject.home, "home", b.t + stay_s)
                depart = b.t + rng.uniform(30, 120) * 60.0
        evening = local_to_utc(day, rng.uniform(19.0, 21.0))
        if rng.random() < (0.5 if subject.is_offender else 0.3) and evening > b.t + 600.0:
            b.go(subject.leisure[int(rng.integers(len(subject.leisure)))], "leisure", evening)
            b.go(subject.home, "home", b.t + rng.uniform(60, 210) * 60.0)
    return b.finish()


def insert_excursion(town: Town, plan: Plan, leg_index: int, scene: Door, arrive: float, dwell_s: float,
                     out_mps: float, back_mps: float, out_mode: str, back_mode: str) -> Stay:
    """Interrupt the stay at ``leg_index``: travel to ``scene`` arriving at ``arrive``, stay ``dwell_s``, travel
    back. Returns the stay at the scene. The caller checks that the excursion fits inside the stay."""
    stay = plan.legs[leg_index]
    out_len = route_length_m(town, stay.door, scene)
    out = make_trip(town, stay.door, scene, arrive - out_len / out_mps, out_mps, out_mode, stay.kind, "scene")
    at_scene = Stay("scene", scene, arrive, arrive + dwell_s)
    back = make_trip(town, scene, stay.door, at_scene.t1, back_mps, back_mode, "scene", stay.kind)
    plan.legs[leg_index:leg_index + 1] = [Stay(stay.kind, stay.door, stay.t0, float(out.times[0])), out, at_scene,
                                          back, Stay(stay.kind, stay.door, float(back.times[-1]), stay.t1)]
    return at_scene


def pass_point(rng: np.random.Generator, trip: Trip, margin_m: float) -> tuple[float, float, float, np.ndarray] | None:
    """A point on a straight stretch of a trip at least ``margin_m`` from its corners: x, y (BNG metres), the time
    the subject passes it (UTC seconds) and the unit direction of travel. None when no stretch is long enough."""
    seg = np.diff(trip.path, axis=0)
    lens = np.hypot(*seg.T)
    room = lens - 2.0 * margin_m
    if not (room > 0).any():
        return None
    i = int(rng.choice(len(lens), p=np.clip(room, 0.0, None) / np.clip(room, 0.0, None).sum()))
    frac = rng.uniform(margin_m, lens[i] - margin_m) / lens[i]
    x, y = trip.path[i] + frac * seg[i]
    t = trip.times[i] + frac * (trip.times[i + 1] - trip.times[i])
    return float(x), float(y), float(t), seg[i] / lens[i]
