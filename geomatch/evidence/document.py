"""Render the statement blocks (:mod:`geomatch.evidence.statement`) as ``statement.docx`` and ``statement.pdf``.

Documents flow: every table splits across pages with its header row repeated, a row taller than a page splits
inside the row, long cells (and long unbroken words) wrap, and every page's footer says "Page N of M". No input,
however long, stops a document from being written.

Both files are byte-for-byte deterministic: the DOCX has fixed core properties and fixed ZIP entry dates, the
PDF is written in reportlab's invariant mode. The PDF embeds DejaVu Sans (shipped with matplotlib) so any
character in the inputs prints.
"""
from __future__ import annotations

import io
import zipfile
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from geomatch.evidence.statement import Block, Heading, PageBreak, Para, Picture, Table
from geomatch.core.safe import escape_html

FIXED_DATE = datetime(2000, 1, 1)
"""Creation and modification dates written into documents (the real time is in the pack's manifest)."""
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_docx(blocks: list[Block], path: Path, *, title: str, footer: str = "") -> Path:
    """Write the statement as a Word document; every page's footer holds ``footer`` and "Page N of M" (Word
    fields, counted when the document is opened or printed)."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.shared import Cm, Pt

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    document.styles["Normal"].font.name = "Arial"
    document.styles["Normal"].font.size = Pt(10)
    _docx_footer(section, footer, Pt(7.5))
    for block in blocks:
        if isinstance(block, Heading):
            document.add_heading(block.text, level=block.level)
        elif isinstance(block, Para):
            document.add_paragraph().add_run(block.text).bold = block.bold
        elif isinstance(block, Table):
            _docx_table(document, block, Pt(7 if block.small else 9.5), Cm(21.0 - 2 * 1.8))
        elif isinstance(block, Picture):
            document.add_picture(str(block.path), width=Cm(16.5))
            document.add_paragraph(block.caption).runs[0].italic = True
        elif isinstance(block, PageBreak):
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    props = document.core_properties
    props.title, props.author, props.last_modified_by = title, "geomatch", "geomatch"
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.revision = 1
    buffer = io.BytesIO()
    document.save(buffer)
    _write_fixed_zip(buffer.getvalue(), path)
    return path


def _docx_footer(section, text: str, size) -> None:
    """``text · Page N of M`` in the section's footer, N and M as PAGE and NUMPAGES fields."""
    paragraph = section.footer.paragraphs[0]
    for part in ((f"{text} · " if text else "") + "Page ", "PAGE", " of ", "NUMPAGES"):
        if part in ("PAGE", "NUMPAGES"):
            _docx_field(paragraph, part, size)
        else:
            paragraph.add_run(part).font.size = size


def _docx_field(paragraph, instruction: str, size) -> None:
    """A complex field (``PAGE``, ``NUMPAGES``) with a placeholder result that Word updates."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for kind, text in (("begin", None), (None, f" {instruction} "), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        run.font.size = size
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text.strip() == instruction:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)


def _docx_table(document, block: Table, size, text_width) -> None:
    """A Word table with the block's relative column widths over ``text_width``; the header row repeats on every
    page the table runs onto, and rows may break across pages (Word wraps the cells)."""
    rows = ([block.header] if block.header else []) + list(block.rows)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    table.autofit = False
    cells = table._cells  # every cell in one pass: table.cell(r, c) rescans the table each time
    columns = len(rows[0])
    widths = [int(text_width * w) for w in block.widths or (0.3, 0.7)]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            cell = cells[r * columns + c]
            cell.width = widths[c]
            run = cell.paragraphs[0].add_run(value)
            run.font.size = size
            run.bold = (r == 0 and block.header is not None) or (c == 0 and block.header is None)
    if block.header is not None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        header = OxmlElement("w:tblHeader")
        header.set(qn("w:val"), "true")
        table.rows[0]._tr.get_or_add_trPr().append(header)
    document.add_paragraph()


def _write_fixed_zip(data: bytes, path: Path) -> None:
    """Rewrite a ZIP (DOCX) with every entry dated 1980-01-01, in the same order, so the bytes are stable
    (python-docx stamps entries with the current time)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            compressed = info.filename.endswith((".png", ".jpeg", ".jpg"))  # images: stored as they are
            fixed.compress_type = zipfile.ZIP_STORED if compressed else zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            out.writestr(fixed, source.read(info.filename))


@lru_cache(maxsize=1)
def _pdf_fonts() -> tuple[str, str]:
    """Register DejaVu Sans (regular, bold) from matplotlib's bundled fonts with reportlab."""
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
    addMapping("DejaVuSans", 0, 0, "DejaVuSans")
    addMapping("DejaVuSans", 1, 0, "DejaVuSans-Bold")
    addMapping("DejaVuSans", 0, 1, "DejaVuSans")
    addMapping("DejaVuSans", 1, 1, "DejaVuSans-Bold")
    return "DejaVuSans", "DejaVuSans-Bold"


def _numbered_canvas(footer: str, font: str, page_width: float, margin: float):
    """A reportlab canvas class that holds every page until the end, then draws ``footer`` and "Page N of M"
    on each (M is only known once the story has flowed)."""
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._held: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.saveState()
                self.setFont(font, 7.5)
                self.drawString(margin, margin * 0.55, footer)
                self.drawRightString(page_width - margin, margin * 0.55, f"Page {number} of {total}")
                self.restoreState()
                super().showPage()
            super().save()

    return NumberedCanvas


def write_pdf(blocks: list[Block], path: Path, *, title: str, footer: str) -> Path:
    """Write the statement as an A4 PDF; every page's footer holds ``footer`` and "Page N of M"."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, KeepTogether, PageBreak as PdfBreak, Paragraph, SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    from reportlab import rl_config

    # Binary image streams: reportlab's default ASCII85 text encoding runs in pure Python without its C
    # accelerator and took most of the time of a pack.
    rl_config.useA85 = 0
    regular, bold = _pdf_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5, spaceAfter=5)
    strong = ParagraphStyle("strong", parent=body, fontName=bold)
    small = ParagraphStyle("small", parent=body, fontSize=6.8, leading=8.2, spaceAfter=0)
    caption = ParagraphStyle("caption", parent=body, fontSize=8.5, leading=11)
    headings = {0: ParagraphStyle("h0", parent=body, fontName=bold, fontSize=15, leading=19, spaceAfter=8),
                1: ParagraphStyle("h1", parent=body, fontName=bold, fontSize=12, leading=15, spaceBefore=8)}
    width = A4[0] - 3.6 * cm
    story = []
    for block in blocks:
        if isinstance(block, Heading):
            story.append(Paragraph(escape_html(block.text), headings[min(block.level, 1)]))
        elif isinstance(block, Para):
            story.append(Paragraph(escape_html(block.text), strong if block.bold else body))
        elif isinstance(block, Table):
            style = small if block.small else body
            rows = ([block.header] if block.header else []) + list(block.rows)
            def cell_style(r: int, c: int) -> ParagraphStyle:
                labelled = (r == 0 and block.header) or (c == 0 and not block.header)
                return strong if labelled and not block.small else style

            cells = [[Paragraph(escape_html(v), cell_style(r, c)) for c, v in enumerate(values)]
                     for r, values in enumerate(rows)]
            table = PdfTable(cells, colWidths=[width * w for w in block.widths or (0.3, 0.7)],
                             repeatRows=1 if block.header else 0, splitByRow=1, splitInRow=1)
            shaded = (-1, 0) if block.header else (0, -1)  # the header row, or the label column
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                       ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                       ("BACKGROUND", (0, 0), shaded, colors.Color(0.93, 0.93, 0.93))]))
            story += [table, Spacer(1, 6)]
        elif isinstance(block, Picture):
            image = Image(str(block.path))
            scale = min(width / image.imageWidth, (A4[1] - 7 * cm) / image.imageHeight)
            image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
            story.append(KeepTogether([image, Paragraph(escape_html(block.caption), caption)]))
        elif isinstance(block, PageBreak):
            story.append(PdfBreak())

    document = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=1.8 * cm, rightMargin=1.8 * cm,
                                 topMargin=1.6 * cm, bottomMargin=1.8 * cm, title=title, author="geomatch",
                                 creator="geomatch", producer="geomatch", subject="", invariant=1)
    document.build(story, canvasmaker=_numbered_canvas(footer, regular, A4[0], 1.8 * cm))
    return path
