"""Stored values shown to people: UK local times written as ``format_uk`` writes them, however they are stored."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from geomatch.core.times import format_uk
from geomatch.store.text import display_value

UTC = timezone.utc
# The clock changes of 2026 (29 March, 25 October, 01:00 UTC) and instants around them.
EDGES = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_times_are_shown_as_format_uk_shows_them(instant):
    expected = format_uk(pd.Timestamp(instant))
    text = instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as the store keeps times in a hit's measurements
    assert display_value(instant) == expected
    assert display_value(text) == expected
    assert display_value(pd.Timestamp(instant)) == expected


def test_times_either_side_of_the_clock_changes():
    for edge in EDGES:
        for seconds in (-3601, -1, 0, 1, 3599, 3600):
            instant = edge + timedelta(seconds=seconds)
            assert display_value(instant) == format_uk(pd.Timestamp(instant))
    assert display_value("2026-10-25T00:30:00.000000Z") == "2026-10-25 01:30:00 +01:00 (BST)"
    assert display_value("2026-10-25T01:30:00Z") == "2026-10-25 01:30:00 +00:00 (GMT)"
    assert display_value("2026-10-25T01:30:00.123456789Z") == "2026-10-25 01:30:00 +00:00 (GMT)"
