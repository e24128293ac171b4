"""map.html: what the page draws (positions, times with their UK offset, thinning of dense trails), its size on
a 1 s trail, and the page itself in headless Chromium (it renders, and fetches nothing)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geomatch.core.crs import BNG
from geomatch.core.times import utc_ns
from geomatch.evidence.context import EvidenceOptions, pack_data, path_steps
from geomatch.evidence.htmlmap import THIN_STEP_S, page_data, render_map_html, thin_fixes
from geomatch.match.config import MatchConfig

SCENE = (615000.0, 243000.0)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dense_pack(start: str = "2026-10-23 06:00", hours: float = 14.0, seed: int = 0):
    """A 1 s trail of ``hours``: 5 h walking east towards the scene along a wavy path, 3 h within 15 m of it,
    then walking away; a 10 min gap in the walk in. One burglary whose window covers the walk in and the stay."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600)
    k = np.arange(n)
    x = np.where(k < 5 * 3600, SCENE[0] - 3000 + k / (5 * 3600) * 2990,
                 np.where(k < 8 * 3600, SCENE[0] + 10, SCENE[0] + 10 + 1.3 * (k - 8 * 3600)))
    y = np.where(k < 5 * 3600, SCENE[1] + 200 * np.sin(k / 900), SCENE[1] + 5)
    x, y = x + rng.normal(0, 3, n), y + rng.normal(0, 3, n)
    keep = (k < 4 * 3600) | (k >= 4 * 3600 + 600)  # a 10 min gap, 1 h before the stay
    t = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(k, unit="s")
    fixes = pd.DataFrame({"subject_id": "D1", "timestamp": t, "x": x, "y": y, "lat": 52.0, "lon": 1.1,
                          "accuracy_m": 6.0, "source": "GPS"})[keep].reset_index(drop=True)
    t0 = pd.Timestamp(start, tz="UTC")
    hit = {"hit_id": "Hdense", "subject_id": "D1", "crime_ref": "D/1", "offence": "burglary_residential",
           "presence": "observed", "radius_m": 100.0, "min_distance_m": 4.0, "closest_x": SCENE[0] + 4,
           "closest_y": SCENE[1], "closest_time": t0 + pd.Timedelta(hours=6),
           "window_start": t0 + pd.Timedelta(hours=1), "window_end": t0 + pd.Timedelta(hours=9)}
    crime = {"crime_ref": "D/1", "offence": "burglary_residential", "x": SCENE[0], "y": SCENE[1]}
    options = EvidenceOptions(crs=BNG, basemap=Path("sample_data/basemap.gpkg"))
    return pack_data(hit, crime, fixes, MatchConfig(), options), options


@pytest.fixture(scope="module")
def dense():
    return dense_pack()


def decoded(payload: dict) -> dict[str, np.ndarray]:
    fixes = payload["fixes"]
    return {"x": np.cumsum(fixes["x"]) / 10, "y": np.cumsum(fixes["y"]) / 10, "t": np.cumsum(fixes["t"]),
            "seq": np.cumsum(fixes["seq"]), "flag": np.asarray(fixes["flag"])}


def test_dense_trail_is_thinned_outside_the_zone_only(dense):
    data, _ = dense
    keep = thin_fixes(data)
    fixes = data.fixes
    assert fixes["in_zone"][~keep].sum() == 0  # every fix in the zone is drawn
    ends = np.flatnonzero(fixes["gap_after"])
    assert len(ends) == 1 and keep[ends].all() and keep[ends + 1].all()  # both ends of the gap
    drawn = fixes[keep & ~fixes["in_zone"].to_numpy()]
    apart = drawn["timestamp"].diff().dt.total_seconds().iloc[1:]
    assert (apart >= THIN_STEP_S - 1e-9).mean() > 0.99  # outside the zone about one fix per 10 s
    assert keep.sum() < 0.45 * len(fixes)


def test_the_page_data_are_the_packs_fixes(dense):
    data, options = dense
    payload = page_data(data, options)
    got = decoded(payload)
    shown = data.fixes[thin_fixes(data)]
    assert payload["shown"] == len(shown) and payload["total"] == len(data.fixes)
    assert np.abs(got["x"] - (shown["x"].to_numpy() - SCENE[0])).max() <= 0.051  # decimetres east of the scene
    assert np.abs(got["y"] - (shown["y"].to_numpy() - SCENE[1])).max() <= 0.051
    assert (got["seq"] == shown["seq"].to_numpy()).all()
    utc_ms = payload["t0"] + got["t"]
    assert (utc_ms == utc_ns(shown["timestamp"]) // 1_000_000).all()
    assert payload["offsets"] == [[0, 3600, "BST"]]  # 23 October 2026: British Summer Time
    assert ((got["flag"] & 2) > 0).sum() == shown["in_zone"].sum()
    assert ((got["flag"] & 8) > 0).sum() == 1  # the one gap is dashed
    assert payload["closest"] == [4.0, 0.0] and payload["radius"] == 100.0
    names = {label[3] for label in payload["basemap"]["labels"]}
    assert names and all(re.fullmatch(r"[A-Z][a-z]+ (Road|Lane|Way|Street|Avenue|Close)", n) for n in names)


def test_the_clock_change_is_in_the_page():
    data, options = dense_pack(start="2026-10-24 20:00", hours=10)  # the clocks go back at 01:00 UTC on the 25th
    payload = page_data(data, options)
    (start, bst, _), (change, gmt, _) = [o[:3] for o in payload["offsets"]]
    assert (start, bst, gmt) == (0, 3600, 0)
    assert payload["t0"] + change >= pd.Timestamp("2026-10-25 01:00", tz="UTC").value // 1_000_000
    assert [o[2] for o in payload["offsets"]] == ["BST", "GMT"]


def test_a_one_second_trail_makes_a_page_under_2_mb(dense):
    data, options = dense
    page = render_map_html(data, options)
    assert len(page.encode("utf-8")) < 2_000_000
    assert f"{len(data.fixes):,} fixes shown" in page


def _chromium(url: str, folder: Path, *extra: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={folder / 'profile'}", "--window-size=1300,1000", "--virtual-time-budget=6000"]
    return subprocess.run([CHROMIUM, *flags, *extra, url], capture_output=True, text=True, timeout=180)


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for (requests with an origin as initiator; the browser's own have none)."""
    log = json.loads(net_log.read_text())
    return sorted({e["params"]["url"] for e in log["events"]
                   if "url" in e.get("params", {}) and e["params"].get("initiator") not in (None, "not an origin")})


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_the_page_renders_in_chromium_and_fetches_nothing(dense, tmp_path):
    data, options = dense
    page = tmp_path / "map.html"
    page.write_text(render_map_html(data, options), encoding="utf-8")
    # a control page proves the check sees requests a page makes
    control = tmp_path / "control.html"
    control.write_text('<img src="http://127.0.0.1:9/x.png"><img src="https://127.0.0.1:9/y.png">')
    _chromium(control.as_uri(), tmp_path, f"--log-net-log={tmp_path / 'control.json'}", "--dump-dom")
    assert [u for u in _page_requests(tmp_path / "control.json") if u.startswith("http")] == [
        "http://127.0.0.1:9/x.png", "https://127.0.0.1:9/y.png"]

    dom = _chromium(page.as_uri(), tmp_path, f"--log-net-log={tmp_path / 'net.json'}", "--dump-dom").stdout
    assert _page_requests(tmp_path / "net.json") == []
    assert "leaflet-container" in dom and "leaflet-control-scale-line" in dom
    for layer in ("Basemap", "Trail (straight lines between fixes; gaps dashed)", "Fixes (shade = time in the window)",
                  "Confidence circles (fixes in the window)", "Match zone", "Crime location and closest approach"):
        assert layer in dom
    scale = re.search(r'leaflet-control-scale-line"[^>]*>([^<]+)<', dom).group(1)
    assert re.fullmatch(r"\d+ k?m", scale)
    _chromium(page.as_uri(), tmp_path, f"--screenshot={tmp_path / 'shot.png'}")
    shot = np.asarray(Image.open(tmp_path / "shot.png").convert("RGB")).astype(int)
    map_area = shot[100:800, 20:760]
    assert (map_area.sum(axis=2) < 200).mean() > 0.001  # dark: fixes, star, outlines drawn
    assert (np.abs(map_area - [220, 220, 220]).sum(axis=2) < 12).mean() > 0.002  # the basemap's grey buildings


def test_the_reachable_area_is_drawn_when_the_pack_has_one(dense):
    """A pack whose data carry a reachable area (an ellipse with the gap's end fixes as foci) gets it as a layer."""
    from dataclasses import dataclass

    from shapely import affinity
    from shapely.geometry import Point

    from geomatch.evidence.context import PackData

    @dataclass(frozen=True)
    class WithReach(PackData):
        reachable: object = None

    data, options = dense
    ellipse = affinity.scale(Point(SCENE[0] - 500, SCENE[1]).buffer(1.0, 64), 400, 150)
    reach = WithReach(data.hit, data.crime, data.fixes, data.gaps, data.interp_max_gap_s, reachable=ellipse)
    (ring,) = page_data(reach, options)["reachable"]
    assert len(ring) == len(ellipse.exterior.coords)
    assert min(x for x, _ in ring) == pytest.approx(-900, abs=0.1) and max(y for _, y in ring) == pytest.approx(150,
                                                                                                             abs=0.1)
    assert page_data(data, options)["reachable"] == []
    assert "Reachable area during the gap" in render_map_html(reach, options)


def test_quality_flags_travel_to_the_hover(dense):
    """With the trail-quality columns (CONTRACTS.md), each drawn fix carries its flag and reason; without them,
    every fix is ok."""
    data, options = dense
    fixes = data.fixes.copy()
    flagged = fixes["in_zone"].to_numpy().nonzero()[0][:3]
    fixes["quality"] = pd.Categorical(["ok"] * len(fixes), categories=["ok", "fallback", "outlier"])
    fixes["quality_reason"] = ""
    fixes.loc[flagged, "quality"] = "outlier"
    fixes.loc[flagged, "quality_reason"] = "outlier: 57 m/s from both neighbours"
    payload = page_data(type(data)(data.hit, data.crime, fixes, data.gaps, data.interp_max_gap_s), options)
    quality = np.asarray(payload["qualities"])[payload["fixes"]["q"]]
    seq = decoded(payload)["seq"]
    assert set(seq[quality == "outlier"]) == set(fixes.loc[flagged, "seq"])
    reasons = np.asarray(payload["reasons"])[payload["fixes"]["qr"]]
    assert set(reasons[quality == "outlier"]) == {"outlier: 57 m/s from both neighbours"}
    assert page_data(data, options)["qualities"] == ["ok"]


def test_the_trail_joins_good_fixes_only_as_the_static_map_does(dense):
    """Fallback and outlier fixes stand alone on the page's trail (flag bit 16 off), as the matcher and the static
    map have them, and a stretch covered by fallback fixes alone for longer than the matcher joins is a gap
    (bit 8 on the good fix before it; the next good fix drawn is the one after the stretch)."""
    data, options = dense
    fixes = data.fixes.copy()
    fixes["quality"] = pd.Categorical(["ok"] * len(fixes), categories=["ok", "fallback", "outlier"])
    t0 = pd.Timestamp(data.hit["window_start"]) + pd.Timedelta(hours=1)
    stretch = ((fixes["timestamp"] >= t0)
               & (fixes["timestamp"] < t0 + pd.Timedelta(seconds=data.interp_max_gap_s + 120))).to_numpy()
    fixes.loc[stretch, "quality"] = "fallback"
    flagged = type(data)(data.hit, data.crime, fixes, data.gaps, data.interp_max_gap_s)
    on_path, gap_after = path_steps(flagged)
    assert (on_path == ~stretch).all() and gap_after.sum() == 2  # the 10 min gap and the fallback stretch

    payload = page_data(flagged, options)
    got = decoded(payload)
    drawn = fixes[thin_fixes(flagged)]
    good = (got["flag"] & 16) > 0
    assert (good == (drawn["quality"] == "ok").to_numpy()).all()
    assert not good.all()  # some fallback fixes of the stretch are drawn, as markers only
    dashed = np.flatnonzero((got["flag"] & 8) > 0)
    assert len(dashed) == 2 and good[dashed].all()
    before, after = np.flatnonzero(stretch)[[0, -1]] + [-1, 1]
    start = int(np.flatnonzero(got["seq"] == fixes["seq"].iloc[before])[0])
    assert start in dashed
    assert got["seq"][start + 1:][good[start + 1:]][0] == fixes["seq"].iloc[after]
    assert page_data(data, options)["fixes"]["flag"] == [f | 16 for f in page_data(data, options)["fixes"]["flag"]]
