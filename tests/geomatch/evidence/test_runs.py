"""A run of packs: a failing pack never stops the others, the index to work from, readable static maps."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import geomatch
from geomatch.core.manifest import verify_tree
from geomatch.evidence import EvidenceOptions, make_packs, pack_data
from geomatch.evidence.index import THUMB_NAME, render_index
from geomatch.evidence.staticmap import (MAX_LABELS, MAX_OVERVIEW_M, focus_extent, label_rows, map_extent,
                                         place_labels, window_norm)
from geomatch.match.config import MatchConfig
from geomatch.pipeline import MatchInputs, run_match
from tests.geomatch.evidence.test_evidence import SCENE, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    trails, crimes = build_world(folder)
    return folder, trails, crimes, run_match(MatchInputs(trails, crimes), folder / "run")


def test_a_failing_pack_is_reported_and_the_others_are_written(world, tmp_path):
    folder, _, _, run = world
    without_s2 = run.trails.accepted[run.trails.accepted["subject_id"] != "S2"]  # S2's hit has no fixes now
    evidence = make_packs(run.hits, without_s2, run.crimes.accepted, tmp_path / "ev",
                          options=EvidenceOptions(crs=run.trails.crs))
    s2 = run.hits.loc[run.hits["subject_id"] == "S2", "hit_id"].tolist()
    assert [f.hit_id for f in evidence.failures] == s2 and not evidence.ok
    assert "no fixes of subject 'S2'" in evidence.failures[0].reason
    assert len(evidence.packs) == len(run.hits) - 1
    assert not (tmp_path / "ev" / s2[0]).exists()  # no partial folder left behind
    count, problems = verify_tree(evidence.out_dir)
    assert count == len(run.hits) and problems == []
    manifest = json.loads((evidence.out_dir / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 1 and manifest["failures"][0]["hit_id"] == s2[0]
    index = evidence.index.read_text()
    assert index.count('<tr class="failed">') == 1 and "pack failed: InputError: no fixes of subject" in index


def test_an_exception_inside_one_pack_does_not_stop_the_run(world, tmp_path, monkeypatch):
    _, _, _, run = world
    import geomatch.evidence.pack as pack_module

    victim = run.hits["hit_id"].iloc[1]
    real = pack_module.draw_timeline

    def flaky(data, path, options):
        if data.hit["hit_id"] == victim:
            raise RuntimeError("Gaps in the trail ... too large on page 3")
        return real(data, path, options)

    monkeypatch.setattr(pack_module, "draw_timeline", flaky)
    evidence = make_packs(run.hits, run.trails, run.crimes, tmp_path / "ev")
    assert [(f.hit_id, f.reason) for f in evidence.failures] == [
        (victim, "RuntimeError: Gaps in the trail ... too large on page 3")]
    assert {p.name for p in evidence.packs} == set(run.hits["hit_id"]) - {victim}


def test_commands_exit_1_after_writing_the_other_packs(world, tmp_path):
    folder, trails, crimes, run = world
    lines = trails.read_text().splitlines()
    (tmp_path / "trails.csv").write_text("\n".join([lines[0]] + [l for l in lines[1:] if not l.startswith("S2,")]))
    result = CliRunner().invoke(geomatch, ["evidence", "--hits", str(run.out_dir / "hits.parquet"), "--trails",
                                           str(tmp_path / "trails.csv"), "--crimes", str(crimes), "--out",
                                           str(tmp_path / "ev")])
    assert result.exit_code == 1, result.output
    s2 = run.hits.loc[run.hits["subject_id"] == "S2", "hit_id"].iloc[0]
    assert f"evidence pack for hit {s2} failed: InputError: no fixes of subject 'S2'" in result.output
    assert f"evidence: {len(run.hits) - 1} packs" in result.output and "1 FAILED" in result.output
    assert len([p for p in (tmp_path / "ev").iterdir() if p.is_dir()]) == len(run.hits) - 1


def test_index_to_work_from(world, tmp_path):
    _, _, _, run = world
    hits = run.hits.assign(coverage_window=np.linspace(0.25, 1.0, len(run.hits)))
    statuses = {hits["hit_id"].iloc[0]: "actioned"}
    evidence = make_packs(hits, run.trails, run.crimes, tmp_path / "ev", review_status=statuses)
    html = evidence.index.read_text()
    for header in ("Hit", "Subject", "Crime", "Offence", "Presence", "Score", "Coverage window", "Review status"):
        if header == "Score" and "score" not in hits.columns:
            continue
        assert f">{header}</th>" in html, header
    assert "25 %" in html and "100 %" in html
    assert ">actioned</td>" in html and html.count(">—</td>") >= len(hits) - 1  # no status recorded for the rest
    assert 'id="filter"' in html and "addEventListener('input'" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    for folder in evidence.packs:
        assert f'<td class="id" data-sort="{folder.name}">{folder.name}</td>' in html
        assert f'src="{folder.name}/{THUMB_NAME}"' in html
        from PIL import Image

        with Image.open(folder / THUMB_NAME) as thumb:
            assert thumb.size == (240, 240)
    unmeasured = run.hits.drop(columns=[c for c in run.hits.columns if c.startswith("coverage")])
    plain = render_index(unmeasured, [p.name for p in evidence.packs])
    assert "Review status" not in plain and "Coverage" not in plain


def test_index_filter_box_works_in_a_browser(world, tmp_path):
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    _, _, _, run = world
    evidence = make_packs(run.hits, run.trails, run.crimes, tmp_path / "ev")
    page = evidence.index.read_text().replace(
        "box.addEventListener('input',filter);filter();",
        "box.addEventListener('input',filter);filter();box.value='S3';filter();"
        "document.title=shown.textContent;")
    probe = tmp_path / "ev" / "probe.html"
    probe.write_text(page)
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    s3 = int((run.hits["subject_id"] == "S3").sum())
    assert f"<title>{s3} of {len(run.hits)} shown</title>" in out.stdout


def test_labels_only_where_they_matter_and_never_collide(world):
    _, _, _, run = world
    hit = run.hits[(run.hits["subject_id"] == "S1") & (run.hits["crime_ref"] == "CR/2026/0001")].iloc[0]
    crime = run.crimes.accepted.set_index("crime_ref", drop=False).loc["CR/2026/0001"].to_dict()
    data = pack_data(hit.to_dict(), crime, run.trails.accepted[run.trails.accepted["subject_id"] == "S1"],
                     MatchConfig(), EvidenceOptions(crs="EPSG:27700"))
    rows = label_rows(data, focus_extent(data))
    fixes = data.fixes
    in_zone = np.flatnonzero(fixes["in_zone"])
    nearest = int(np.argmin(np.abs((fixes["timestamp"] - hit.closest_time).dt.total_seconds())))
    assert rows[0] == nearest and {in_zone[0], in_zone[-1]} <= set(rows[:3])
    assert len(rows) <= MAX_LABELS + 8 and len(set(rows)) == len(rows)
    anchors = np.array([[100.0 + 3 * k, 100.0] for k in range(40)])  # forty fixes 3 px apart
    placed = place_labels(anchors, [str(1000 + k) for k in range(40)], [(95, 90, 110, 110)], (0, 0, 400, 400), 14.0)
    boxes = [(anchors[k][0] + dx, anchors[k][1] + dy, anchors[k][0] + dx + 14 * 0.62 * 4 + 2,
              anchors[k][1] + dy + 14 * 1.25) for k, dx, dy in placed]
    assert 3 <= len(placed) < 40
    for i, a in enumerate(boxes):
        assert not (a[0] < 110 and 95 < a[2] and a[1] < 110 and 90 < a[3])  # never over the star
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_colour_bar_spans_the_window_and_the_inset_is_bounded(world, tmp_path):
    from geomatch.evidence.staticmap import draw_map

    _, _, _, run = world
    hit = run.hits[(run.hits["subject_id"] == "S3") & (run.hits["crime_ref"] == "CR/2026/0001")].iloc[0]
    crime = run.crimes.accepted.set_index("crime_ref", drop=False).loc["CR/2026/0001"].to_dict()
    s3 = run.trails.accepted[run.trails.accepted["subject_id"] == "S3"].reset_index(drop=True)
    gap_start = int(np.flatnonzero(s3["timestamp"] == pd.Timestamp("2026-06-10 12:57", tz="UTC"))[0])
    early = s3["timestamp"].iloc[0] - pd.Timedelta(days=3)
    fixes = s3.copy()
    fixes.loc[gap_start, "x"] = SCENE[0] - 830_000.0  # the fix before the gap 830 km away (a bad fix)
    fixes = pd.concat([s3.iloc[[0]].assign(timestamp=early), fixes], ignore_index=True)  # and one 3 days early
    options = EvidenceOptions(crs="EPSG:27700")
    data = pack_data(hit.to_dict(), crime, fixes, MatchConfig(), options)
    assert data.vicinity["distance_m"].max() > 800_000
    norm = window_norm(data)
    assert norm.vmin == 0 and norm.vmax == (hit.window_end - hit.window_start).total_seconds()
    extent = map_extent(data)
    assert extent[1] - extent[0] <= MAX_OVERVIEW_M and extent[0] <= SCENE[0] <= extent[1]
    assert draw_map(data, tmp_path / "map.png", options).stat().st_size > 0


def test_every_hit_of_a_1s_trail_gets_a_pack(tmp_path):
    """A simulated day of three subjects resampled to one fix a second (correlated noise): every hit gets a
    pack, the map labels stay few and the points table holds the 1 s fixes."""
    from geomatch.ingest.crimes import load_crimes
    from geomatch.ingest.trails import load_trails
    from geomatch.match.matcher import match_hits
    from geomatch.simulate.world import simulate_world, write_world
    from tests.geomatch.evidence.resample import resample_1s

    write_world(simulate_world(n_subjects=3, days=1, seed=11), tmp_path / "world")
    config = MatchConfig()
    trails = load_trails(tmp_path / "world" / "trails.parquet")
    crimes = load_crimes(tmp_path / "world" / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    from geomatch.quality import flag_quality

    dense = flag_quality(resample_1s(trails.accepted, trails.crs, seed=3), config.quality_rule)
    assert len(dense) > 50 * len(trails.accepted)
    hits = match_hits(dense, crimes.accepted, config)
    assert len(hits) >= 5
    evidence = make_packs(hits, dense, crimes.accepted, tmp_path / "ev", config=config,
                          options=EvidenceOptions(crs=trails.crs), workers=2)
    assert evidence.ok and len(evidence.packs) == len(hits)
    count, problems = verify_tree(evidence.out_dir)
    assert count == len(hits) + 1 and problems == []
    steps = []
    for folder, hit in zip(evidence.packs, hits.itertuples()):
        points = pd.read_csv(folder / "points.csv")
        steps += pd.to_datetime(points["time_utc"]).diff().dt.total_seconds().dropna().tolist()
        # the matcher counts the fixes that form the path (quality ok); points.csv lists every fix with its flag
        assert (points["in_zone"].eq("yes") & points["quality"].eq("ok")).sum() == hit.n_fixes_in_zone
    assert len(steps) > 1000 and np.mean(np.array(steps) == 1) > 0.9  # one fix a second, as sent


def test_match_with_a_store_shows_review_status_in_the_index(tmp_path):
    trails, crimes = build_world(tmp_path, subjects=("S1",))
    out = tmp_path / "run"
    args = ["match", "--trails", str(trails), "--crimes", str(crimes), "--out", str(out), "--evidence",
            "--db", f"sqlite:///{tmp_path / 'store.db'}"]
    result = CliRunner().invoke(geomatch, args)
    assert result.exit_code == 0, result.output
    from geomatch.store import add_review, list_hits

    stored = list_hits(f"sqlite:///{tmp_path / 'store.db'}")
    html = (out / "evidence" / "index.html").read_text()
    assert ">Review status</th>" in html and html.count(">pending</td>") == len(stored) >= 2
    from geomatch.store.outcomes import OUTCOMES

    add_review(f"sqlite:///{tmp_path / 'store.db'}", stored["hit_id"].iloc[0], outcome=OUTCOMES[0], by="PC 123")
    args[args.index(str(out))] = str(tmp_path / "again")
    assert CliRunner().invoke(geomatch, args).exit_code == 0
    html = (tmp_path / "again" / "evidence" / "index.html").read_text()
    assert html.count(f">{OUTCOMES[0]}</td>") == 1 and html.count(">pending</td>") == len(stored) - 1


def test_the_thumbnail_shows_the_zone_not_the_inset(world, tmp_path, monkeypatch):
    """The index's thumbnail is cropped around the zone from the map under the overview inset: the same pixels
    whether the map has an inset or not (the inset is drawn after the crop, and the map keeps it)."""
    from PIL import Image

    from geomatch.evidence import staticmap

    _, _, _, run = world
    hit = run.hits[(run.hits["subject_id"] == "S1") & (run.hits["crime_ref"] == "CR/2026/0001")].iloc[0]
    assert hit["min_distance_m"] < 0.5 * hit["radius_m"]  # a view of two radii each side: the crop meets the inset
    crime = run.crimes.accepted.set_index("crime_ref", drop=False).loc["CR/2026/0001"].to_dict()
    far = run.trails.accepted[run.trails.accepted["subject_id"] == "S1"].reset_index(drop=True)
    window = far.index[far["timestamp"].between(hit["window_start"], hit["window_end"])]
    far.loc[window[0], "x"] += 2500.0  # a fix in the window 2.5 km off: the overview inset is drawn
    options = EvidenceOptions(crs="EPSG:27700")
    data = pack_data(hit.to_dict(), crime, far, MatchConfig(), options)
    with_inset = staticmap.draw_map(data, (tmp_path / "a").mkdir() or tmp_path / "a" / "map.png", options)
    monkeypatch.setattr(staticmap, "map_extent", staticmap.focus_extent)  # no inset
    without = staticmap.draw_map(data, (tmp_path / "b").mkdir() or tmp_path / "b" / "map.png", options)
    maps = [np.asarray(Image.open(p)) for p in (with_inset, without)]
    assert not np.array_equal(*maps)  # the inset is on the map
    thumbs = [np.asarray(Image.open(p.with_name(THUMB_NAME))) for p in (with_inset, without)]
    assert thumbs[0].shape == (240, 240, 3) and np.array_equal(*thumbs)


def test_the_awkward_hits_of_the_sample_week_get_packs(tmp_path):
    """From the shipped sample week (trails flagged by the quality stage, as `geomatch match` does): the hit with
    the longest gap, a possible hit made by a mobile-network (LBS) fix's circle and the hit with the most fixes
    in its zone all get packs, and each pack's points agree with the hit's measurements."""
    from pathlib import Path

    from geomatch.ingest.crimes import load_crimes
    from geomatch.ingest.trails import load_trails
    from geomatch.match.matcher import match_hits
    from geomatch.quality import assess_trails

    sample = Path(__file__).resolve().parents[3] / "sample_data"
    config = MatchConfig()
    trails = assess_trails(load_trails(sample / "trails.parquet"), config.quality_rule)
    crimes = load_crimes(sample / "crimes.csv", target_crs=trails.crs, naive_tz=config.naive_tz,
                         max_window_s=config.max_window_s)
    hits = match_hits(trails.accepted, crimes.accepted, config)
    lbs = hits[(hits["presence"] == "possible") & (hits["circle_source"] == "LBS")]
    assert len(lbs)
    chosen = hits.loc[[hits["max_gap_s"].idxmax(), lbs.index[0], hits["n_fixes_in_zone"].idxmax()]]
    evidence = make_packs(chosen, trails, crimes, tmp_path / "ev", config=config, workers=1)
    assert evidence.ok and len(evidence.packs) == 3
    assert verify_tree(evidence.out_dir) == (4, [])
    for folder, hit in zip(evidence.packs, chosen.itertuples()):
        points = pd.read_csv(folder / "points.csv")
        assert (points["in_zone"].eq("yes") & points["quality"].eq("ok")).sum() == hit.n_fixes_in_zone
        assert points["distance_to_scene_m"].min() <= hit.min_distance_m + 1.0 or hit.closest_kind != "fix"
    assert pd.read_csv(evidence.packs[1] / "points.csv")["source"].eq("LBS").any()
    assert json.loads((evidence.packs[1] / "reachable.geojson").read_text())["type"] == "FeatureCollection"


def test_the_collector_runs_less_while_packs_are_drawn_and_is_given_back(world, tmp_path, monkeypatch):
    """The garbage collector does not go over the caller's objects while packs are drawn (gc.freeze) and looks at
    young objects less often; both are given back after (also when a pack fails), and a caller that froze
    objects itself keeps its own state."""
    import gc

    import geomatch.evidence.pack as pack_module

    _, _, _, run = world
    seen = []
    real = pack_module.make_pack

    def watched(job):
        seen.append(gc.get_freeze_count())
        assert gc.get_threshold()[0] == pack_module.GC_YOUNGEST
        if len(seen) == 1:
            raise RuntimeError("a failing pack")
        return real(job)

    monkeypatch.setattr(pack_module, "make_pack", watched)
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    evidence = make_packs(run.hits, run.trails, run.crimes, tmp_path / "ev")
    assert len(evidence.failures) == 1 and min(seen) > 0 and gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        make_packs(run.hits.head(1), run.trails, run.crimes, tmp_path / "again")
        assert 0 < gc.get_freeze_count() <= frozen  # not given back, nothing more frozen
    finally:
        gc.unfreeze()
