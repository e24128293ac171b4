"""Documents that flow: tables split across pages with the header repeated, long cells wrap, "Page N of M";
the content of the statement checked for a hit with 3,000 fixes and 80 gaps in its window and for a hit whose
crime reference and free text are very long."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geomatch.evidence import EvidenceOptions, make_packs, pack_data
from geomatch.evidence.document import write_docx, write_pdf
from geomatch.evidence.statement import MAX_TABLE_ROWS, Exhibits, build_statement
from geomatch.evidence.text import fmt_duration, fmt_time
from geomatch.match.config import MatchConfig
from geomatch.match.matcher import match_hits
from tests.geomatch.evidence.test_evidence import SCENE, docx_text

T0 = pd.Timestamp("2026-06-10 12:00", tz="UTC")
CONFIG = MatchConfig(interp_max_gap_s=60.0, possible_max_gap_s=60.0)


def gappy_dense_trail(n_fixes: int = 3000, n_gaps: int = 80) -> pd.DataFrame:
    """One subject circling the scene 60 m out at 1.2 m/s, a fix every 2 s, the fixes in ``n_gaps + 1`` runs
    separated by 92 s gaps (longer than ``CONFIG.interp_max_gap_s``)."""
    runs = np.array_split(np.arange(n_fixes), n_gaps + 1)
    seconds = np.concatenate([2.0 * run + 90.0 * k for k, run in enumerate(runs)])
    angle = 1.2 * seconds / 60.0
    return pd.DataFrame({"subject_id": pd.Categorical(["S9"] * n_fixes),
                         "timestamp": T0 + pd.to_timedelta(seconds, unit="s"),
                         "x": SCENE[0] + 60 * np.cos(angle), "y": SCENE[1] + 60 * np.sin(angle), "lat": 51.5,
                         "lon": -0.1, "accuracy_m": 7.0, "source": "GPS"})


def crime_frame(ref: str, free_text: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"crime_ref": [ref], "offence": ["burglary_residential"], "x": [SCENE[0]], "y": [SCENE[1]],
                         "committed_from": [start], "committed_to": [end], "long_window": [False],
                         "dst_adjusted": [False], "free_text": [free_text], "area": [pd.NA],
                         "location_accuracy_m": [np.nan]})


@pytest.fixture(scope="module")
def dense_pack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dense")
    trails = gappy_dense_trail()
    crimes = crime_frame("CR/DENSE/1", "long dwell", T0, trails["timestamp"].iloc[-1])
    hits = match_hits(trails, crimes, CONFIG)
    run = make_packs(hits, trails, crimes, folder / "ev", config=CONFIG, options=EvidenceOptions(crs="EPSG:27700"))
    assert run.ok and len(run.packs) == 1
    return trails, hits.iloc[0], run.packs[0]


def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(str(path)).pages]


FOOTER = re.compile(r"geomatch evidence pack · hit H[0-9a-f]+ · subject \S+ Page \d+ of \d+ ?")


def body_text(path: Path) -> str:
    """The PDF's text with the page footers taken out, so text that runs over a page break reads on."""
    return " ".join(FOOTER.sub("", page) for page in pdf_pages(path)).replace("  ", " ")


def test_dense_hit_has_3000_fixes_and_80_gaps_in_its_window(dense_pack):
    trails, hit, folder = dense_pack
    t = trails["timestamp"]
    assert ((t >= hit.window_start) & (t <= hit.window_end)).sum() == 3000
    gaps = np.diff(t.to_numpy()).astype("timedelta64[s]").astype(int)
    assert (gaps > 60).sum() == 80


def test_pdf_flows_over_pages_with_every_gap_and_page_n_of_m(dense_pack):
    trails, hit, folder = dense_pack
    pages = pdf_pages(folder / "statement.pdf")
    total = len(pages)
    assert total >= 6
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in text
    text = body_text(folder / "statement.pdf")
    t = trails["timestamp"]
    gap_rows = np.flatnonzero(np.diff(t.to_numpy()).astype("timedelta64[s]").astype(int) > 60)
    for row in gap_rows:  # every gap, with its ends and length, survives the page breaks
        seconds = (t.iloc[row + 1] - t.iloc[row]).total_seconds()
        expected = f"{fmt_time(t.iloc[row])} to {fmt_time(t.iloc[row + 1])} ({fmt_duration(seconds)})"
        assert expected in text, expected
    assert f"{hit.min_distance_m:.1f} m at {fmt_time(hit.closest_time)}" in text
    assert f"Only the first {MAX_TABLE_ROWS} of 3000 positions are printed" in text
    header_pages = [p for p in pages if "Seq UK local time Latitude Longitude" in p]
    assert len(header_pages) >= 2  # the points table runs over pages and repeats its header on each


def test_pdf_points_table_holds_the_right_points(dense_pack):
    trails, hit, folder = dense_pack
    text = body_text(folder / "statement.pdf")
    points = pd.read_csv(folder / "points.csv")
    assert len(points) == 3000
    for row in (0, 1, 75, MAX_TABLE_ROWS - 1):
        p = points.iloc[row]
        expected = f"{p.sequence} {p.time_uk} {p.latitude:.6f} {p.longitude:.6f} 7.0 "
        assert expected in text, expected
        assert f"{p.distance_to_scene_m:.1f} GPS" in text
    assert f"\n{MAX_TABLE_ROWS + 1} " not in text  # the 151st row is in points.csv only
    assert points["distance_to_scene_m"].to_numpy() == pytest.approx(60.0, abs=0.06)


def test_docx_repeats_table_headers_and_counts_pages(dense_pack):
    trails, hit, folder = dense_pack
    from docx import Document

    document = Document(str(folder / "statement.docx"))
    headed = [table for table in document.tables if table.rows[0]._tr.xpath("./w:trPr/w:tblHeader")]
    assert [table.rows[0].cells[0].text for table in headed] == ["Seq", "Symbol"]
    assert len(headed[0].rows) == 1 + MAX_TABLE_ROWS
    with zipfile.ZipFile(folder / "statement.docx") as archive:
        footers = [archive.read(n).decode() for n in archive.namelist() if re.match(r"word/footer\d*\.xml", n)]
    assert any("NUMPAGES" in f and " PAGE " in f and "hit " + str(hit.hit_id) in f for f in footers)
    text = docx_text(folder / "statement.docx")
    t = trails["timestamp"]
    gap = int(np.flatnonzero(np.diff(t.to_numpy()).astype("timedelta64[s]").astype(int) > 60)[40])
    assert f"{fmt_time(t.iloc[gap])} to {fmt_time(t.iloc[gap + 1])} (1 min 32 s)" in text
    assert f"{hit.min_distance_m:.1f} m at {fmt_time(hit.closest_time)}" in text


def test_very_long_reference_and_free_text_wrap(tmp_path):
    ref = "CR/" + "".join(f"{k:04d}" for k in range(125))[:497]  # 500 characters, no space to break at
    words = " ".join(f"word{k}" for k in range(900))  # about 7,000 characters of free text
    trails = gappy_dense_trail(400, 3)
    crimes = crime_frame(ref, words, T0, T0 + pd.Timedelta(minutes=20))
    hit = match_hits(trails, crimes, CONFIG).iloc[0]
    assert len(ref) == 500
    data = pack_data(hit.to_dict(), crimes.iloc[0].to_dict(), trails, CONFIG, EvidenceOptions(crs="EPSG:27700"))
    run = make_packs(pd.DataFrame([hit]), trails, crimes, tmp_path / "ev", config=CONFIG,
                     options=EvidenceOptions(crs="EPSG:27700"))
    assert run.ok
    folder = run.packs[0]
    pdf = body_text(folder / "statement.pdf")
    docx = docx_text(folder / "statement.docx")
    for text in (pdf, docx):
        squeezed = re.sub(r"\s+", "", text)
        assert ref in squeezed  # the whole reference, wrapped over lines
        assert squeezed.count(ref) >= 3  # summary, allegation, witness statement
        assert words.replace(" ", "") in squeezed
    assert "word899" in pdf and "Page 1 of" in pdf_pages(folder / "statement.pdf")[0]
    blocks = build_statement(data, Exhibits(folder / "map.png", folder / "timeline.png", folder / "points.csv"),
                             version="test", inputs=(), crs="EPSG:27700")
    assert write_pdf(blocks, tmp_path / "again.pdf", title="t", footer="f").read_bytes() == \
        write_pdf(blocks, tmp_path / "again2.pdf", title="t", footer="f").read_bytes()
    assert write_docx(blocks, tmp_path / "a.docx", title="t").stat().st_size > 0
