"""The CRS travels with the data, and MatchConfig refuses values that make no sense."""
from __future__ import annotations

import pandas as pd
import pytest

from geomatch.core.errors import InputError
from geomatch.ingest.crimes import load_crimes
from geomatch.ingest.trails import load_trails
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits

FIXES = [{"subject_id": "S1", "timestamp": f"2026-10-22T10:0{i}:00Z", "lat": 52.05, "lon": 1.15 + i * 1e-4,
          "accuracy_m": 8} for i in range(3)]
CRIME = {"crime_ref": "C1", "offence": "burglary_residential", "lat": 52.05, "lon": 1.1501,
         "committed_from": "2026-10-22 10:55", "committed_to": "2026-10-22 11:05"}  # UK time (BST)


def write(tmp_path, rows, name):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_trails_and_crimes_carry_their_crs_and_match(tmp_path):
    trails = load_trails(write(tmp_path, FIXES, "t.csv"))
    crimes = load_crimes(write(tmp_path, [CRIME], "c.csv"), target_crs=trails.crs)
    assert trails.crs == crimes.crs == "EPSG:27700"
    assert len(match_hits(trails, crimes)) == 1


def test_match_hits_refuses_trails_and_crimes_in_different_crss(tmp_path):
    trails = load_trails(write(tmp_path, FIXES, "t.csv"), target_crs="EPSG:32631")  # UTM 31N
    crimes = load_crimes(write(tmp_path, [CRIME], "c.csv"))  # British National Grid by default
    with pytest.raises(InputError, match="EPSG:32631.*EPSG:27700.*target_crs=trails.crs") as error:
        match_hits(trails, crimes)
    assert error.value.file == crimes.source


def test_a_trail_spanning_more_than_a_utm_zone_is_warned_about(tmp_path):
    from geomatch.core.crs import zone_span_warning
    from geomatch.pipeline import MatchInputs, format_summary, run_match

    far = [{**f, "subject_id": "S2", "lat": 52.0, "lon": -8.6 + 9.0 * i} for i, f in enumerate(FIXES)]
    near = [{**f, "lat": 52.0, "lon": -8.6} for f in FIXES]
    trails_path = write(tmp_path, near + far, "t.csv")
    assert zone_span_warning(load_trails(trails_path).accepted["lon"].to_numpy(), "EPSG:32629") is not None
    run = run_match(MatchInputs(trails=trails_path, crimes=write(tmp_path, [CRIME], "c.csv")), tmp_path / "out",
                    scorer=None)
    assert run.crs.startswith("EPSG:326") and len(run.warnings) == 1
    assert "more than one UTM zone" in format_summary(run)
    import json
    assert json.loads(run.manifest.read_text())["warnings"] == list(run.warnings)


def test_a_trail_in_one_zone_or_in_bng_gets_no_warning():
    import numpy as np

    from geomatch.core.crs import zone_span_warning
    assert zone_span_warning(np.array([-8.0, -4.0]), "EPSG:32630") is None
    assert zone_span_warning(np.array([-8.0, 1.7]), "EPSG:27700") is None


@pytest.mark.parametrize("changes, field", [
    ({"max_window_s": 0}, "max_window_s"),
    ({"interp_max_gap_s": float("nan")}, "interp_max_gap_s"),
    ({"interp_max_gap_s": 4000.0}, "possible_max_gap_s"),
    ({"walk_speed_mps": -1.0}, "walk_speed_mps"),
    ({"walk_speed_mps": 20.0}, "max_speed_mps"),
    ({"naive_tz": "Mars/Olympus"}, "naive_tz"),
    ({"max_speed_mps": "fast"}, "max_speed_mps"),
])
def test_match_config_refuses_nonsense_naming_the_field(changes, field):
    with pytest.raises(InputError, match=field):
        MatchConfig(**changes)


@pytest.mark.parametrize("radius, pad", [(-100.0, None), (float("nan"), None), (0.0, None), (None, -600 * 60.0)])
def test_uniform_rule_refuses_a_radius_or_padding_that_makes_no_sense(radius, pad):
    with pytest.raises(InputError, match="radius_m|pad_s"):
        MatchConfig().with_uniform_rule(radius, pad)


@pytest.mark.parametrize("text, expected", [
    ("[offences.burglary_residential]\nradius_m = -5\n", "radius_m must be > 0"),
    ("[offences.burglary_residential]\nradius = 5\n", "unknown setting"),
    ("walking_speed = 2\n", "unknown setting"),
    ("[offences.burglary_residential]\nradius_m = 'far'\n", "must be numbers"),
    ("walk_speed_mps = 30\n", "max_speed_mps must be >="),
])
def test_a_toml_file_with_nonsense_is_refused_naming_file_and_field(tmp_path, text, expected):
    path = tmp_path / "match.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as error:
        MatchConfig.from_toml(path)
    assert error.value.file == str(path)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)
