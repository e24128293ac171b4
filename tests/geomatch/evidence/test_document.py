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


AWKWARD = ["plain", " leading space", "trailing space ", "a\tb", "a\nb", "a\r\nb", "x\ry", "\t", "", "tab\t\ttwice",
           "a & b < c > d \"q\" 'a'", "ünïcödé — · °", "\u00a0no-break", "end\n"]


def python_docx_statement(blocks, path: Path, *, title: str, footer: str) -> Path:
    """A statement without tables built through python-docx's own objects and saved by python-docx: the oracle
    of :func:`write_docx`'s XML."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    from geomatch.evidence.document import FIXED_DATE
    from geomatch.evidence.statement import Heading, PageBreak, Para, Picture

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    document.styles["Normal"].font.name = "Arial"
    document.styles["Normal"].font.size = Pt(10)
    paragraph = section.footer.paragraphs[0]
    for part in ((f"{footer} · " if footer else "") + "Page ", "PAGE", " of ", "NUMPAGES"):
        if part not in ("PAGE", "NUMPAGES"):
            paragraph.add_run(part).font.size = Pt(7.5)
            continue
        for kind, text in (("begin", None), (None, f" {part} "), ("separate", None), (None, "1"), ("end", None)):
            run = paragraph.add_run()
            run.font.size = Pt(7.5)
            element = OxmlElement("w:fldChar" if kind else "w:instrText" if text.strip() == part else "w:t")
            if kind:
                element.set(qn("w:fldCharType"), kind)
            else:
                if element.tag == qn("w:instrText"):
                    element.set(qn("xml:space"), "preserve")
                element.text = text
            run._r.append(element)
    for block in blocks:
        if isinstance(block, Heading):
            paragraph = document.add_paragraph()
            paragraph._p.get_or_add_pPr().style = "Title" if block.level == 0 else f"Heading{block.level}"
            paragraph.add_run(block.text)
        elif isinstance(block, Para):
            document.add_paragraph().add_run(block.text).bold = block.bold
        elif isinstance(block, Picture):
            document.add_picture(str(block.path), width=Cm(16.5))
            document.add_paragraph(block.caption).runs[0].italic = True
        elif isinstance(block, PageBreak):
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    props = document.core_properties
    props.title, props.author, props.last_modified_by = title, "geomatch", "geomatch"
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.revision = 1
    document.save(str(path))
    return path


def test_docx_is_the_xml_python_docx_makes(dense_pack, tmp_path):
    """write_docx writes the statement without python-docx's objects: every part of the package (document,
    footer, properties, styles, relationships, content types, pictures) is what python-docx makes of the same
    blocks, awkward texts and a repeated picture included; and its tables are XML as lxml writes it."""
    from lxml import etree

    from geomatch.evidence.statement import Heading, PageBreak, Para, Picture, Table

    folder = dense_pack[2]
    blocks = [Heading("Title & <more>", 0), *(Heading(t) for t in AWKWARD), *(Para(t) for t in AWKWARD),
              *(Para(t, bold=True) for t in AWKWARD), Picture(folder / "map.png", "map & <caption>"), PageBreak(),
              Picture(folder / "timeline.png", " timeline\twith a tab"), Picture(folder / "map.png", "the map again")]
    ours = write_docx(blocks, tmp_path / "ours.docx", title='Evidence pack & "<x>"', footer="hit\tH1 & <S>")
    oracle = python_docx_statement(blocks, tmp_path / "oracle.docx", title='Evidence pack & "<x>"',
                                   footer="hit\tH1 & <S>")
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(oracle) as b:
        assert a.namelist()[0] == "[Content_Types].xml"  # what file-type sniffers look for first
        assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}
    tables = [Table(None, tuple((t, t) for t in AWKWARD)),
              Table(("Seq", "Text"), tuple(("1", t) for t in AWKWARD), small=True, widths=(0.2, 0.8))]
    with zipfile.ZipFile(write_docx(tables, tmp_path / "tables.docx", title="t")) as archive:
        xml = archive.read("word/document.xml")
    assert etree.tostring(etree.fromstring(xml), encoding="UTF-8", standalone=True) == xml
    assert docx_text(tmp_path / "tables.docx").count("a & b < c > d") == 3


def test_plain_cells_are_drawn_as_reportlab_draws_them(tmp_path):
    """The PDF's tables draw a plain-string cell straight into the page: the same bytes as reportlab's own Table
    (fonts, subsets past 256 glyphs, multi-line strings, paragraphs and a split over pages included)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate
    from reportlab.platypus import Table as ReportlabTable

    from geomatch.evidence.document import _pdf_fonts, _pdf_table_class

    regular, bold = _pdf_fonts()
    many = "".join(chr(c) for c in range(0x100, 0x250))  # more glyphs than one font subset holds
    rows = [["Seq", "Text"]] + [[str(k), f"row {k} ° ü — {many[k:k + 40]}"] for k in range(120)]
    rows += [["multi", "line one\nline two"], ["para", Paragraph("a <b>wrapping</b> paragraph " * 20,
                                                                   ParagraphStyle("p", fontName=regular))]]

    def pdf(table_class, path: Path) -> bytes:
        table = table_class(rows, colWidths=[60, 400], repeatRows=1, splitByRow=1, splitInRow=1)
        table.setStyle([("FONT", (0, 0), (-1, -1), regular, 7, 8.5), ("FONT", (0, 0), (-1, 0), bold, 7, 8.5),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("GRID", (0, 0), (-1, -1), 0.4, "grey")])
        SimpleDocTemplate(str(path), pagesize=A4, invariant=1).build([table])
        return path.read_bytes()

    assert pdf(_pdf_table_class(), tmp_path / "ours.pdf") == pdf(ReportlabTable, tmp_path / "reportlab.pdf")
