"""Render the statement blocks (:mod:`geomatch.evidence.statement`) as ``statement.docx`` and ``statement.pdf``.

Documents flow: every table splits across pages with its header row repeated, a row taller than a page splits
inside the row, long cells (and long unbroken words) wrap, and every page's footer says "Page N of M". No input,
however long, stops a document from being written.

Both files are byte-for-byte deterministic: the DOCX has fixed core properties and fixed ZIP entry dates, the
PDF is written in reportlab's invariant mode. The PDF embeds DejaVu Sans (shipped with matplotlib) so any
character in the inputs prints.
"""
from __future__ import annotations

import hashlib
import re
import struct
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from geomatch.evidence.statement import Block, Heading, PageBreak, Para, Picture, Table
from geomatch.core.safe import escape_html

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
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
        if isinstance(block, Heading):  # add_heading's paragraph, its style id set directly (python-docx looks
            paragraph = document.add_paragraph()  # the style up by name with XPath each time: a fifth of the DOCX)
            paragraph._p.get_or_add_pPr().style = "Title" if block.level == 0 else f"Heading{block.level}"
            paragraph.add_run(block.text)
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
    _save_fixed_docx(document, path)
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
    page the table runs onto, and rows may break across pages (Word wraps the cells).

    The table is written as WordprocessingML in one piece (the same elements python-docx makes, with the grid
    widths set): building 1,350 cells through python-docx's objects took a fifth of a pack's time."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    rows = ([block.header] if block.header else []) + list(block.rows)
    widths = [round(text_width * w / 635) for w in block.widths or (0.3, 0.7)]  # EMU to twentieths of a point
    half_points = round(size.pt * 2)
    parts = [f"<w:tbl {nsdecls('w')}><w:tblPr><w:tblStyle w:val=\"TableGrid\"/><w:tblW w:type=\"auto\" w:w=\"0\"/>"
             "<w:tblLayout w:type=\"fixed\"/><w:tblLook w:firstColumn=\"1\" w:firstRow=\"1\" w:lastColumn=\"0\" "
             "w:lastRow=\"0\" w:noHBand=\"0\" w:noVBand=\"1\" w:val=\"04A0\"/></w:tblPr><w:tblGrid>",
             *(f"<w:gridCol w:w=\"{w}\"/>" for w in widths), "</w:tblGrid>"]
    for r, values in enumerate(rows):
        header = r == 0 and block.header is not None
        parts.append("<w:tr><w:trPr><w:tblHeader/></w:trPr>" if header else "<w:tr>")
        for c, value in enumerate(values):
            bold = header or (c == 0 and block.header is None)
            parts.append(f"<w:tc><w:tcPr><w:tcW w:type=\"dxa\" w:w=\"{widths[c]}\"/></w:tcPr><w:p><w:r><w:rPr>"
                         f"{'<w:b/>' if bold else ''}<w:sz w:val=\"{half_points}\"/></w:rPr>"
                         f"<w:t xml:space=\"preserve\">{_xml_text(value)}</w:t></w:r></w:p></w:tc>")
        parts.append("</w:tr>")
    parts.append("</w:tbl>")
    after = document.add_paragraph()
    after._p.addprevious(parse_xml("".join(parts)))


def _xml_text(value: str) -> str:
    """Text for a ``w:t`` element: XML-escaped, characters XML 1.0 cannot hold replaced by ``?``."""
    from xml.sax.saxutils import escape

    return escape(_XML_BAD.sub("?", str(value)))


class _FixedZipWriter:
    """python-docx's physical package writer (``write(pack_uri, blob)``, ``close()``) over a ZIP whose entries
    are all dated 1980-01-01, so the bytes are stable (python-docx stamps them with the current time); images
    are stored as they are (already compressed), the XML deflated."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)

    def write(self, pack_uri, blob: bytes) -> None:
        info = zipfile.ZipInfo(pack_uri.membername, date_time=_ZIP_DATE)
        stored = info.filename.endswith((".png", ".jpeg", ".jpg"))
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        self._zip.writestr(info, blob)

    def close(self) -> None:
        self._zip.close()


def _save_fixed_docx(document, path: Path) -> None:
    """Save a python-docx document as ``Document.save`` does, but straight into a ZIP with fixed dates (one pass:
    saving and then rewriting the ZIP deflated the pictures twice, a third of the DOCX's time)."""
    from docx.opc.pkgwriter import PackageWriter

    package = document.part.package
    parts = package.parts
    for part in parts:
        part.before_marshal()
    writer = _FixedZipWriter(path)
    try:
        PackageWriter._write_content_types_stream(writer, parts)
        PackageWriter._write_pkg_rels(writer, package.rels)
        PackageWriter._write_parts(writer, parts)
    finally:
        writer.close()


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


def _pdf_cell(text: str, style, column_width: float):
    """A table cell: the plain string when it fits on one line of the column (drawn directly, ten times faster
    to lay out), else a wrapping Paragraph (long words split too)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph

    text = str(text)
    if "\n" not in text and stringWidth(text, style.fontName, style.fontSize) <= column_width - 12:
        return text
    return Paragraph(escape_html(text), style)


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


@dataclass(frozen=True)
class Png:
    """A non-interlaced 8-bit RGB or grey PNG's size and its image data as stored (the IDAT chunks joined: a zlib
    stream of rows, each with its PNG filter byte)."""

    width: int
    height: int
    colours: int  # 3 (RGB) or 1 (grey)
    data: bytes


def read_png(path: Path) -> Png | None:
    """The PNG at ``path`` as :class:`Png`, or ``None`` when it is of a kind a PDF cannot take as it is
    (interlaced, with a palette, an alpha channel or 16-bit samples)."""
    raw = Path(path).read_bytes()
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    at, header, chunks = 8, None, []
    while at + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[at:at + 8])
        body = raw[at + 8:at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
        at += 12 + length
    if header is None or header[2] != 8 or header[3] not in (0, 2) or header[6] != 0:
        return None
    return Png(header[0], header[1], 3 if header[3] == 2 else 1, b"".join(chunks))


def _png_flowable(png: Png, width: float, height: float):
    """A reportlab flowable drawing ``png`` at ``width`` x ``height`` points from its own compressed data: the
    PDF image stream is the PNG's IDAT data under FlateDecode with the PNG predictors (PDF 1.2, section
    "LZW and Flate predictor functions"), so the pixels are exactly the PNG's and nothing is decoded or
    compressed again (reportlab's own path decoded each exhibit and deflated it anew: a fifth of the PDF's time).
    """
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFImageXObject, PDFName, PDFStream
    from reportlab.platypus import Flowable

    class PngXObject(PDFImageXObject):
        def __init__(self, name: str):
            super().__init__(name)
            self.width, self.height = png.width, png.height

        def format(self, document):
            stream = PDFStream(content=png.data)
            entries = stream.dictionary
            entries["Type"], entries["Subtype"] = PDFName("XObject"), PDFName("Image")
            entries["Width"], entries["Height"], entries["BitsPerComponent"] = png.width, png.height, 8
            entries["ColorSpace"] = PDFName("DeviceRGB" if png.colours == 3 else "DeviceGray")
            entries["Filter"] = PDFArray([PDFName("FlateDecode")])
            entries["DecodeParms"] = PDFDictionary({"Predictor": 15, "Colors": png.colours,
                                                    "BitsPerComponent": 8, "Columns": png.width})
            entries["Length"] = len(png.data)
            return stream.format(document)

    class PngImage(Flowable):
        def wrap(self, available_width, available_height):
            return width, height

        def draw(self):
            canvas = self.canv
            name = "png" + hashlib.sha256(png.data).hexdigest()[:32]
            registered = canvas._doc.getXObjectName(name)
            if not canvas._doc.idToObject.get(registered):
                image = PngXObject(name)
                canvas._setXObjects(image)
                canvas._doc.Reference(image, registered)
                canvas._doc.addForm(name, image)
            canvas._currentPageHasImages = 1
            canvas.saveState()
            canvas.scale(width, height)
            canvas._code.append(f"/{registered} Do")
            canvas.restoreState()
            canvas._formsinuse.append(name)

    return PngImage()


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

            col_widths = [width * w for w in block.widths or (0.3, 0.7)]
            cells = [[_pdf_cell(v, cell_style(r, c), col_widths[c]) for c, v in enumerate(values)]
                     for r, values in enumerate(rows)]
            table = PdfTable(cells, colWidths=col_widths, repeatRows=1 if block.header else 0, splitByRow=1,
                             splitInRow=1)
            shaded = (-1, 0) if block.header else (0, -1)  # the header row, or the label column
            labelled = strong if not block.small else style
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                       ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                       ("FONT", (0, 0), (-1, -1), style.fontName, style.fontSize, style.leading),
                                       ("FONT", (0, 0), shaded, labelled.fontName, labelled.fontSize,
                                        labelled.leading),
                                       ("BACKGROUND", (0, 0), shaded, colors.Color(0.93, 0.93, 0.93))]))
            story += [table, Spacer(1, 6)]
        elif isinstance(block, Picture):
            png = read_png(block.path)
            if png is None:  # a PNG the PDF cannot take as it is: reportlab decodes and deflates it
                image = Image(str(block.path))
                size = image.imageWidth, image.imageHeight
            else:
                size = png.width, png.height
            scale = min(width / size[0], (A4[1] - 7 * cm) / size[1])
            if png is None:
                image.drawWidth, image.drawHeight = size[0] * scale, size[1] * scale
            else:
                image = _png_flowable(png, size[0] * scale, size[1] * scale)
            story.append(KeepTogether([image, Paragraph(escape_html(block.caption), caption)]))
        elif isinstance(block, PageBreak):
            story.append(PdfBreak())

    document = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=1.8 * cm, rightMargin=1.8 * cm,
                                 topMargin=1.6 * cm, bottomMargin=1.8 * cm, title=title, author="geomatch",
                                 creator="geomatch", producer="geomatch", subject="", invariant=1)
    document.build(story, canvasmaker=_numbered_canvas(footer, regular, A4[0], 1.8 * cm))
    return path
