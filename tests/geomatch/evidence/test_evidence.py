"""Evidence packs: content of every exhibit and document, safety of names and text, manifests, determinism."""
from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geomatch.match.config import MatchConfig
from geomatch.core.crs import BNG, WGS84, transform
from geomatch.core.errors import InputError
from geomatch.evidence import EvidenceOptions, make_packs, pack_data, safe_folder_name, select_hits
from geomatch.evidence.htmlmap import leaflet_assets
from geomatch.evidence.pack import PACK_FILES
from geomatch.evidence.points import POINT_COLUMNS, write_points
from geomatch.core.manifest import verify_tree
from geomatch.pipeline import MatchInputs, run_match

T0 = pd.Timestamp("2026-06-10 13:00", tz="UTC")  # 14:00 BST
SCENE = (530000.0, 180000.0)
FREE_TEXT = "<script>alert('x')</script> entry via rear door & window"
EVIL_REF = '=HYPERLINK("http://x")'


def build_world(folder: Path, subjects: tuple[str, ...] = ("S1", "S2", "S3")) -> tuple[Path, Path]:
    """A small world around one burglary at 14:00-14:30 BST on 10 June 2026.

    S1 walks east 20 m north of the scene at 1.5 m/s (GPS every 30 s): observed, closest 20 m at 14:06:40 BST.
    S2 sends coarse LBS fixes (500 m accuracy) every 2 min 250-400 m away, then GPS: an LBS hit.
    S3 stops reporting 790 m west at 13:57 BST and reappears 600 m east at 14:22 BST: a 25 min gap over the
    window from which the scene was reachable (possible).
    A second crime 1.5 km east, on S1's way, has a formula as its reference (S1 passes it 20 m away).
    """
    rows = []
    for k in range(-40, 80):
        rows.append(("S1", T0 + pd.Timedelta(seconds=30 * k), SCENE[0] - 600 + 45 * k, SCENE[1] + 20, 6.0, "GPS"))
    rng = np.random.default_rng(1)
    for k in range(-10, 25):
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(250, 400)
        source, acc = ("LBS", 500.0) if k < 15 else ("GPS", 8.0)
        rows.append(("S2", T0 + pd.Timedelta(seconds=120 * k), SCENE[0] + dist * np.cos(angle),
                     SCENE[1] + dist * np.sin(angle), acc, source))
    for k in range(-30, 0):
        rows.append(("S3", T0 + pd.Timedelta(seconds=60 * k - 120), SCENE[0] - 800 - 10 * k, SCENE[1] - 50, 10.0,
                     "GPS"))
    for k in range(0, 30):
        rows.append(("S3", T0 + pd.Timedelta(seconds=60 * k + 1320), SCENE[0] + 600 + 15 * k, SCENE[1] + 100, 10.0,
                     "GPS"))
    frame = pd.DataFrame(rows, columns=["subject_id", "timestamp", "x", "y", "accuracy_m", "source"])
    frame = frame[frame["subject_id"].isin(subjects)]
    lon, lat = transform(frame["x"].to_numpy(), frame["y"].to_numpy(), BNG, WGS84)  # back again by the loader
    frame = frame.assign(lat=lat, lon=lon, timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    trails = folder / "trails.csv"
    frame[["subject_id", "timestamp", "lat", "lon", "accuracy_m", "source"]].to_csv(trails, index=False)
    crimes = folder / "crimes.csv"
    pd.DataFrame([
        {"crime_ref": "CR/2026/0001", "offence": "burglary_residential", "easting": SCENE[0], "northing": SCENE[1],
         "committed_from": "2026-06-10 14:00:00", "committed_to": "2026-06-10 14:30:00", "free_text": FREE_TEXT},
        {"crime_ref": EVIL_REF, "offence": "theft_from_vehicle", "easting": SCENE[0] + 1500, "northing": SCENE[1],
         "committed_from": "2026-06-10 14:00:00", "committed_to": "2026-06-10 14:30:00", "free_text": "x"},
    ]).to_csv(crimes, index=False)
    return trails, crimes


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence")
    trails, crimes = build_world(folder)
    run = run_match(MatchInputs(trails, crimes), folder / "run")
    evidence = make_packs(run.hits, run.trails, run.crimes, folder / "run" / "evidence",
                          inputs=[trails, crimes])
    return run, evidence


def pack_of(run, evidence, subject: str, crime_ref: str = "CR/2026/0001") -> Path:
    hits = run.hits.reset_index(drop=True)
    row = hits.index[(hits["subject_id"] == subject) & (hits["crime_ref"] == crime_ref)][0]
    return evidence.packs[row]


def docx_text(path: Path) -> str:
    from docx import Document

    document = Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return " ".join(" ".join(parts).split())


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text() for page in PdfReader(str(path)).pages).split())


@pytest.mark.parametrize("text", ["../../etc/passwd", "CR/2026/1", "..", ".", "", "a\x00b\x1fc\n", "CON",
                                  "con.txt", "x" * 300, "crime\\ref", " spaced out ", "Ωμέγα/ß"])
def test_safe_folder_name_never_escapes_or_collides(text, tmp_path):
    name = safe_folder_name(text)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", name), name
    assert name.split(".")[0].upper() not in {"CON", "NUL", "PRN", "AUX"}
    created = tmp_path / name
    created.mkdir()
    assert created.resolve().parent == tmp_path.resolve()
    assert safe_folder_name(text) == name  # deterministic


def test_safe_folder_name_keeps_hit_ids_and_separates_lookalikes():
    assert safe_folder_name("H0123456789abcdef") == "H0123456789abcdef"
    names = {safe_folder_name(t) for t in ("a/b", "a_b", "a\\b", "a b", "../a_b", "_a_b")}
    assert len(names) == 6


def test_every_pack_is_complete_and_verifies(world):
    run, evidence = world
    assert len(evidence.packs) == len(run.hits) >= 4  # S1, S2 and S3 on the burglary, S1 on the second crime
    for folder, hit_id in zip(evidence.packs, run.hits["hit_id"]):
        assert folder.name == hit_id
        for name in PACK_FILES + ("manifest.json",):
            assert (folder / name).stat().st_size > 0, name
        assert (folder / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (folder / "statement.pdf").read_bytes()[:5] == b"%PDF-"
    count, problems = verify_tree(evidence.out_dir)
    assert count == len(run.hits) + 1 and problems == []


def test_points_table_holds_the_right_points(world):
    run, evidence = world
    points = pd.read_csv(pack_of(run, evidence, "S1") / "points.csv")
    assert list(points.columns) == POINT_COLUMNS
    fixes = run.trails.accepted
    s1 = fixes[fixes["subject_id"] == "S1"]
    hit = run.hits[run.hits["subject_id"] == "S1"].iloc[0]
    t = s1["timestamp"]
    in_window = (t >= hit.window_start) & (t <= hit.window_end)
    d = np.hypot(s1["x"] - SCENE[0], s1["y"] - SCENE[1])
    before = s1[t < hit.window_start].tail(1).index
    after = s1[t > hit.window_end].head(1).index
    span = in_window | s1.index.isin(before.union(after))
    expected = s1[span & (d <= 500)]
    assert points["time_utc"].tolist() == expected["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    assert points["distance_to_scene_m"].to_numpy() == pytest.approx(d[span & (d <= 500)].round(1).to_numpy())
    assert points["time_uk"].str.endswith("+01:00").all()
    assert points["speed_kmh"].dropna().to_numpy() == pytest.approx(5.4)  # 1.5 m/s
    assert (points["direction_deg"] == 90).all()  # due east (grid)
    assert (points["confidence_radius_m"] == 6.0).all()
    assert points["in_zone"].eq("yes").sum() == hit.n_fixes_in_zone
    assert np.all(np.diff(points["sequence"]) == 1)  # a run of consecutive fixes along the street


def test_statement_docx_names_the_right_times_and_distances(world):
    run, evidence = world
    folder = pack_of(run, evidence, "S1")
    text = docx_text(folder / "statement.docx")
    hit_id = folder.name
    for expected in ("CR/2026/0001", "Subject reference S1", "20.0 m at 2026-06-10 14:06:40 +01:00 (BST)",
                     "2026-06-10 13:45:00 +01:00 (BST) to 2026-06-10 14:45:00 +01:00 (BST)",
                     "Committed from 2026-06-10 14:00:00 +01:00 (BST)", "Criminal Justice Act 1967, s.9",
                     f"exhibit {hit_id}/1", f"{hit_id}/3", "Key to map symbols", FREE_TEXT, "Observed:",
                     "5.4 km/h", "does not show that the subject committed the crime"):
        assert expected in text, expected
    from docx import Document

    document = Document(str(folder / "statement.docx"))
    assert len(document.inline_shapes) == 2  # map and timeline embedded
    assert document.core_properties.created.year == 2000
    with zipfile.ZipFile(folder / "statement.docx") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_statement_pdf_names_the_right_times_and_distances(world):
    run, evidence = world
    folder = pack_of(run, evidence, "S1")
    text = pdf_text(folder / "statement.pdf")
    for expected in ("CR/2026/0001", "20.0 m at 2026-06-10 14:06:40 +01:00 (BST)", "Criminal Justice Act 1967",
                     "2026-06-10 13:45:00 +01:00 (BST)", f"Exhibit {folder.name}/2", "alert('x')",
                     "Key to map symbols", "14:06:30 +01:00", "Page 1"):
        assert expected in text, expected
    from pypdf import PdfReader

    reader = PdfReader(str(folder / "statement.pdf"))
    images = sum(len(page.images) for page in reader.pages)
    assert images == 2


def test_long_gap_and_lbs_hits(world):
    run, evidence = world
    gap_pack = pack_of(run, evidence, "S3")
    text = docx_text(gap_pack / "statement.docx")
    assert "2026-06-10 13:57:00 +01:00 (BST) to 2026-06-10 14:22:00 +01:00 (BST) (25 min 00 s)" in text
    assert "Possible:" in text
    points = pd.read_csv(gap_pack / "points.csv")
    assert {"2026-06-10T12:57:00Z", "2026-06-10T13:22:00Z"} <= set(points["time_utc"])  # both ends of the gap
    lbs = pd.read_csv(pack_of(run, evidence, "S2") / "points.csv")
    assert (lbs.loc[lbs["source"] == "LBS", "confidence_radius_m"] == 500.0).all()
    assert (lbs["source"] == "LBS").sum() >= 10


def test_text_from_inputs_is_escaped_in_html(world):
    run, evidence = world
    for page in [evidence.index, pack_of(run, evidence, "S1") / "map.html",
                 pack_of(run, evidence, "S1", EVIL_REF) / "map.html"]:
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html
        assert 'HYPERLINK("' not in html
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        own = html.replace(leaflet_assets()[0], "")  # the inlined map library's own text (never fetches)
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", own), page  # nothing fetched from elsewhere
    index = evidence.index.read_text(encoding="utf-8")
    assert "=HYPERLINK(&quot;http://x&quot;)" in index
    assert index.count("<tr>") == 1 + len(run.hits)
    for folder in evidence.packs:
        assert f'href="{folder.name}/statement.pdf"' in index


def test_points_csv_is_neutralised(world, tmp_path):
    run, evidence = world
    hit = run.hits[run.hits["subject_id"] == "S1"].iloc[0].to_dict()
    crime = run.crimes.accepted.set_index("crime_ref").loc["CR/2026/0001"].to_dict() | {"crime_ref": "CR/2026/0001"}
    fixes = run.trails.accepted[run.trails.accepted["subject_id"] == "S1"].copy()
    fixes["source"] = "=1+2"
    data = pack_data(hit, crime, fixes, MatchConfig(), EvidenceOptions(crs="EPSG:27700"))
    text = write_points(data, tmp_path / "points.csv").read_text()
    assert ",'=1+2," in text and ",=1+2" not in text  # source, then the quality flag and reason


def test_same_bytes_whatever_the_workers(world, tmp_path):
    run, evidence = world
    inputs = [run.out_dir.parent / "trails.csv", run.out_dir.parent / "crimes.csv"]
    again = make_packs(run.hits, run.trails, run.crimes, tmp_path / "ev2", workers=2,
                       inputs=inputs)

    def digests(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}

    assert digests(again.out_dir) == digests(evidence.out_dir)


def test_verify_names_changed_and_missing_files(world, tmp_path):
    run, evidence = world
    import shutil

    copy = Path(shutil.copytree(evidence.out_dir, tmp_path / "copy"))
    first, second = (copy / p.name for p in evidence.packs[:2])
    (first / "points.csv").write_text("sequence\n1\n")
    (second / "statement.pdf").unlink()
    count, problems = verify_tree(copy)
    assert count == len(run.hits) + 1
    assert {(p.path, p.problem) for p in problems} == {(f"{first.name}/points.csv", "changed"),
                                                       (f"{second.name}/statement.pdf", "missing")}


def test_basemap_is_drawn_and_hashed_and_tiles_need_the_extra(world, tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString, box

    run, _ = world
    roads = gpd.GeoDataFrame({"kind": ["road", "building"]},
                             geometry=[LineString([(SCENE[0] - 700, SCENE[1] - 30), (SCENE[0] + 700, SCENE[1] - 30)]),
                                       box(SCENE[0] - 60, SCENE[1] - 20, SCENE[0] - 20, SCENE[1] + 10)],
                             crs="EPSG:27700")
    basemap = tmp_path / "roads.gpkg"
    roads.to_file(basemap, driver="GPKG")
    hits = run.hits[(run.hits["subject_id"] == "S1") & (run.hits["crime_ref"] == "CR/2026/0001")]
    plain = make_packs(hits, run.trails, run.crimes, tmp_path / "plain")
    drawn = make_packs(hits, run.trails, run.crimes, tmp_path / "base",
                       options=EvidenceOptions(basemap=basemap))
    assert (plain.packs[0] / "map.png").read_bytes() != (drawn.packs[0] / "map.png").read_bytes()
    assert "roads.gpkg" in (drawn.packs[0] / "manifest.json").read_text()
    try:
        import contextily  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="contextily"):
            make_packs(hits, run.trails, run.crimes, tmp_path / "tiles",
                       options=EvidenceOptions(tiles="https://tiles.example/{z}/{x}/{y}.png"))


def test_select_hits_ranks_by_score_or_presence():
    hits = pd.DataFrame({"hit_id": ["Ha", "Hb", "Hc", "Hd"], "presence": ["possible", "observed", "observed",
                                                                         "interpolated"],
                         "min_distance_m": [5.0, 40.0, 10.0, 1.0], "score": [80.0, 20.0, 80.0, 50.0]})
    assert select_hits(hits)["hit_id"].tolist() == ["Ha", "Hc", "Hd", "Hb"]  # score, then hit id
    assert select_hits(hits, top=2, min_score=10)["hit_id"].tolist() == ["Ha", "Hc"]
    assert select_hits(hits, min_score=50)["hit_id"].tolist() == ["Ha", "Hc", "Hd"]
    unscored = hits.drop(columns="score")
    assert select_hits(unscored)["hit_id"].tolist() == ["Hc", "Hb", "Hd", "Ha"]  # presence, then distance
    with pytest.raises(InputError):
        select_hits(unscored, min_score=1)


def test_hits_from_other_crimes_are_refused(world, tmp_path):
    run, _ = world
    moved = run.crimes.accepted.copy()
    moved.loc[moved["crime_ref"] == "CR/2026/0001", "x"] += 40.0
    with pytest.raises(InputError, match="do not match the crimes file"):
        make_packs(run.hits, run.trails, moved, tmp_path / "moved")
    later = run.crimes.accepted.copy()
    later["committed_to"] += pd.Timedelta(hours=2)
    with pytest.raises(InputError, match="do not match the crimes file"):
        make_packs(run.hits, run.trails, later, tmp_path / "later")


def test_statement_across_the_clock_change_names_both_offsets(tmp_path):
    from geomatch.evidence.statement import Exhibits, Para, Table, build_statement
    from geomatch.match.matcher import match_hits

    start = pd.Timestamp("2026-10-24 23:30", tz="UTC")  # 00:30 BST; the clocks go back at 01:00 UTC
    seconds = np.arange(0, 3 * 3600, 60)
    trails = pd.DataFrame({"subject_id": pd.Categorical(["A"] * len(seconds)),
                           "timestamp": start + pd.to_timedelta(seconds, unit="s"),
                           "x": SCENE[0] - 3000 + seconds * 2760 / 4500, "y": SCENE[1] + 10.0, "lat": 0.0, "lon": 0.0,
                           "accuracy_m": 5.0, "source": "GPS"})
    crimes = pd.DataFrame({"crime_ref": ["DST/1"], "offence": ["burglary_residential"], "x": [SCENE[0] - 240.0],
                           "y": [SCENE[1]], "committed_from": [pd.Timestamp("2026-10-25 00:10", tz="UTC")],
                           "committed_to": [pd.Timestamp("2026-10-25 01:20", tz="UTC")], "long_window": [False],
                           "dst_adjusted": [False], "free_text": ["x"], "area": [pd.NA],
                           "location_accuracy_m": [np.nan]})
    hit = match_hits(trails, crimes, MatchConfig()).iloc[0]
    data = pack_data(hit.to_dict(), crimes.iloc[0].to_dict(), trails, MatchConfig(), EvidenceOptions(crs="EPSG:27700"))
    blocks = build_statement(data, Exhibits(tmp_path / "m.png", tmp_path / "t.png", tmp_path / "p.csv"),
                             version="test", inputs=(), crs="EPSG:27700")
    text = " ".join([b.text for b in blocks if isinstance(b, Para)]
                    + [cell for b in blocks if isinstance(b, Table) for row in b.rows for cell in row])
    assert "Committed from 2026-10-25 01:10:00 +01:00 (BST)" in " ".join(text.split(" "))
    assert "2026-10-25 01:10:00 +01:00 (BST) to 2026-10-25 01:20:00 +00:00 (GMT)" in text
    assert "(BST, +01:00 / GMT, +00:00)" in text


def test_control_characters_in_crime_text_still_give_documents(world, tmp_path):
    from geomatch.evidence.document import write_docx, write_pdf
    from geomatch.evidence.statement import Exhibits, build_statement

    run, evidence = world
    folder = pack_of(run, evidence, "S1")
    hit = run.hits[run.hits["hit_id"] == folder.name].iloc[0].to_dict() | {"crime_ref": "CR\x07/../1 $a$"}
    crime = run.crimes.accepted.set_index("crime_ref").loc["CR/2026/0001"].to_dict()
    crime |= {"crime_ref": "CR\x07/../1 $a$", "free_text": "bell\x07 null\x00 <b>bold</b> & $x$"}
    fixes = run.trails.accepted[run.trails.accepted["subject_id"] == "S1"]
    data = pack_data(hit, crime, fixes, MatchConfig(), EvidenceOptions(crs="EPSG:27700"))
    blocks = build_statement(data, Exhibits(folder / "map.png", folder / "timeline.png", folder / "points.csv"),
                             version="test", inputs=(), crs="EPSG:27700")
    docx = docx_text(write_docx(blocks, tmp_path / "s.docx", title="t"))
    pdf = pdf_text(write_pdf(blocks, tmp_path / "s.pdf", title="t", footer="f"))
    for text in (docx, pdf):
        assert r"CR\x07/../1 $a$" in text and r"bell\x07 null\x00 <b>bold</b> & $x$" in text
    from geomatch.evidence.staticmap import draw_map
    from geomatch.evidence.timeline import draw_timeline

    assert draw_map(data, tmp_path / "m.png", EvidenceOptions(crs="EPSG:27700")).stat().st_size > 0  # "$" is not maths
    assert draw_timeline(data, tmp_path / "t.png", EvidenceOptions(crs="EPSG:27700")).stat().st_size > 0


def test_the_maps_keys_say_the_same_of_a_dashed_gap():
    """The static map's legend, the statement's key and the trail's rule agree: a dash joins two good fixes further
    apart than the matcher joins, with none or only fallback fixes between them (not "no fixes")."""
    from geomatch.evidence.staticmap import _legend_handles
    from geomatch.evidence.style import MAP_KEY

    labels = [handle.get_label() for handle in _legend_handles(100.0, ("GPS", "LBS"))]
    assert "Gap in trail (no good fixes)" in labels and not any("(no fixes)" in label for label in labels)
    assert "no good fixes" in next(entry.meaning for entry in MAP_KEY if entry.symbol == "Dashed line")
