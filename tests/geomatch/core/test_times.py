"""UK local times to UTC: the ambiguous autumn hour and the missing spring hour widen windows, never guess."""
from __future__ import annotations

import pandas as pd

from geomatch.core.times import format_uk, parse_times


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_ambiguous_autumn_hour_widens_both_ways():
    values = pd.Series(["2026-10-25 01:30:00"])
    start, end = parse_times(values, side="start"), parse_times(values, side="end")
    assert start.utc[0] == ts("2026-10-25 00:30")  # read as BST, the earlier instant
    assert end.utc[0] == ts("2026-10-25 01:30")  # read as GMT, the later instant
    assert start.ambiguous[0] and end.ambiguous[0] and not start.nonexistent[0]


def test_missing_spring_hour_widens_both_ways():
    values = pd.Series(["2026-03-29 01:30:00"])
    start, end = parse_times(values, side="start"), parse_times(values, side="end")
    assert start.utc[0] == ts("2026-03-29 00:30")
    assert end.utc[0] == ts("2026-03-29 01:30")
    assert start.nonexistent[0] and not start.ambiguous[0]


def test_instants_refuse_ambiguous_and_missing_times():
    parsed = parse_times(pd.Series(["2026-10-25 01:30", "2026-03-29 01:30", "2026-07-01 12:00"]), side="instant")
    assert parsed.utc.isna().tolist() == [True, True, False]
    assert parsed.ambiguous.tolist() == [True, False, False]
    assert parsed.nonexistent.tolist() == [False, True, False]
    assert parsed.utc[2] == ts("2026-07-01 11:00")  # BST


def test_offsets_are_taken_as_given_and_garbage_is_unparseable():
    parsed = parse_times(pd.Series(["2026-10-25T01:30:00+01:00", "2026-10-25T01:30:00Z", "soon", None]))
    assert parsed.utc[0] == ts("2026-10-25 00:30") and parsed.utc[1] == ts("2026-10-25 01:30")
    assert parsed.unparseable.tolist() == [False, False, True, True]


def test_naive_times_need_a_zone_when_none_is_given():
    parsed = parse_times(pd.Series(["2026-07-01 12:00", "2026-07-01T12:00Z"]), naive_tz=None)
    assert parsed.unparseable.tolist() == [True, False] and parsed.naive.tolist() == [True, False]


def test_moj_format_times_are_utc():
    parsed = parse_times(pd.Series(["20261025013000"]), naive_tz="UTC", fmt="%Y%m%d%H%M%S", side="start")
    assert parsed.utc[0] == ts("2026-10-25 01:30") and not parsed.ambiguous[0]


def test_format_uk_names_the_offset():
    assert format_uk(ts("2026-10-25 00:30")) == "2026-10-25 01:30:00 +01:00 (BST)"
    assert format_uk(ts("2026-10-25 01:30")) == "2026-10-25 01:30:00 +00:00 (GMT)"
