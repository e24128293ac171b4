"""Render the statement blocks (:mod:`geomatch.evidence.statement`) as ``statement.docx`` and ``statement.pdf``.

Documents flow: every table splits across pages with its header row repeated, a row taller than a page splits
inside the row, long cells (and long unbroken words) wrap, and every page's footer says "Page N of M". No input,
however long, stops a document from being written.

Both files are byte-for-byte deterministic: the DOCX has fixed core properties and fixed ZIP entry dates, the
PDF is written in reportlab's invariant mode. The DOCX is the XML python-docx makes, written from a template made
once per process (a test holds it to python-docx's own output); the PDF's tables draw their plain cells straight
into the page (a test holds them to reportlab's own bytes). The PDF embeds DejaVu Sans (shipped with matplotlib) so any
character in the inputs prints.
"""
from __future__ import annotations

import hashlib
import io
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


_PAGE_CM, _MARGIN_CM, _PICTURE_CM = (21.0, 29.7), 1.8, 16.5
_MARK = "GEOMATCHMARK"
"""Text put where a statement's own content goes in the template (:func:`_word_template`), to find the spot."""
_RUN_BREAKS = re.compile("([\t\r\n])")
_BOLD, _NOT_BOLD = "<w:rPr><w:b/></w:rPr>", '<w:rPr><w:b w:val="0"/></w:rPr>'  # python-docx's Run.bold = True, False
_ITALIC = "<w:rPr><w:i/></w:rPr>"


@dataclass(frozen=True)
class _WordTemplate:
    """python-docx's default document set up as every statement is (A4, 1.8 cm margins, Normal in Arial 10 pt, a
    footer, one image part per distinct picture), taken apart once per process: the package's unchanging parts
    already zipped (``fixed``), and around the marks, the XML of the parts that change (document body, footer
    text, title) and the names of the parts that take each statement's pictures."""

    fixed: bytes  # a ZIP of every unchanging part, in python-docx's order ([Content_Types].xml first)
    document: tuple[str, str]
    footer: tuple[str, str]
    core: tuple[str, str]
    names: tuple[str, str, str]  # document, footer and core properties parts
    images: tuple[tuple[str, str], ...]  # per distinct picture: its part's member name and relationship id


def write_docx(blocks: list[Block], path: Path, *, title: str, footer: str = "") -> Path:
    """Write the statement as a Word document; every page's footer holds ``footer`` and "Page N of M" (Word
    fields, counted when the document is opened or printed).

    The document is what python-docx makes of the blocks (the same XML), written without it: the package's
    unchanging parts (styles, theme, settings: ~800 KB of XML) come zipped from a template made once per process
    (:func:`_word_template`); each statement writes its body, footer, title and pictures after them."""
    from docx.image.image import Image

    blobs = {id(block): Path(block.path).read_bytes() for block in blocks if isinstance(block, Picture)}
    pictures: dict[bytes, tuple[int, object, str]] = {}  # blob: (image number, image, file name), first seen
    for block in blocks:
        if isinstance(block, Picture) and blobs[id(block)] not in pictures:
            pictures[blobs[id(block)]] = (len(pictures), Image.from_blob(blobs[id(block)]), Path(block.path).name)
    template = _word_template(tuple(image.ext for _, image, _ in pictures.values()))
    placed = {}  # per Picture block: its image's relationship id, the image and its file name
    for block in blocks:
        if isinstance(block, Picture):
            number, image, name = pictures[blobs[id(block)]]
            placed[id(block)] = (template.images[number][1], image, name)
    parts = {template.names[0]: _docx_body(blocks, placed).join(template.document),
             template.names[1]: _docx_footer(footer).join(template.footer),
             template.names[2]: _xml_text(title).join(template.core)}
    archive = io.BytesIO(template.fixed)
    with zipfile.ZipFile(archive, "a") as writer:
        for name, xml in parts.items():
            _write_member(writer, name, xml.encode("utf-8"))
        for (name, _), blob in zip(template.images, pictures):
            _write_member(writer, name, blob)
    path.write_bytes(archive.getvalue())
    return path


def _docx_body(blocks: list[Block], pictures: dict[int, tuple[str, object, str]]) -> str:
    """The document's body as python-docx's ``add_paragraph``, ``add_run``, ``add_picture`` and ``add_break``
    write it; ``pictures`` gives each Picture block (by ``id``) its relationship id, python-docx image and file
    name."""
    from docx.shared import Cm, Pt

    body, shapes = [], 0
    for block in blocks:
        if isinstance(block, Heading):
            style = "Title" if block.level == 0 else f"Heading{block.level}"
            body.append(f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>{_w_run(block.text)}</w:p>')
        elif isinstance(block, Para):
            body.append(f"<w:p>{_w_run(block.text, _BOLD if block.bold else _NOT_BOLD)}</w:p>")
        elif isinstance(block, Table):
            body.append(_docx_table(block, Pt(7 if block.small else 9.5), Cm(_PAGE_CM[0] - 2 * _MARGIN_CM)))
        elif isinstance(block, Picture):
            shapes += 1  # python-docx numbers the pictures of a document 1, 2, ...
            rid, image, name = pictures[id(block)]
            cx, cy = image.scaled_dimensions(Cm(_PICTURE_CM), None)
            body.append(_w_picture(shapes, rid, name, cx, cy))
            body.append(f"<w:p>{_w_run(block.caption, _ITALIC)}</w:p>")
        elif isinstance(block, PageBreak):
            body.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')
    return "".join(body)


def _docx_footer(text: str) -> str:
    """The footer's runs: ``text · Page N of M``, N and M as PAGE and NUMPAGES fields with a placeholder result
    that Word updates, in 7.5 pt."""
    size = '<w:rPr><w:sz w:val="15"/></w:rPr>'
    runs = [_w_run((f"{text} · " if text else "") + "Page ", size)]
    for instruction in ("PAGE", "NUMPAGES"):
        runs += [f'<w:r>{size}<w:fldChar w:fldCharType="begin"/></w:r>',
                 f'<w:r>{size}<w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>',
                 f'<w:r>{size}<w:fldChar w:fldCharType="separate"/></w:r>', f"<w:r>{size}<w:t>1</w:t></w:r>",
                 f'<w:r>{size}<w:fldChar w:fldCharType="end"/></w:r>']
        if instruction == "PAGE":
            runs.append(_w_run(" of ", size))
    return "".join(runs)


def _w_run(text: str, properties: str = "") -> str:
    """A ``w:r`` holding ``text`` as python-docx's ``Run.text`` writes it: tabs as ``w:tab``, line feeds and
    carriage returns as ``w:br``, the rest as ``w:t`` (its spaces kept when it starts or ends with white space);
    ``properties`` is the run's ``w:rPr``."""
    content = []
    for piece in _RUN_BREAKS.split(text):
        if piece == "\t":
            content.append("<w:tab/>")
        elif piece in ("\r", "\n"):
            content.append("<w:br/>")
        elif piece:
            space = ' xml:space="preserve"' if len(piece.strip()) < len(piece) else ""
            content.append(f"<w:t{space}>{_xml_text(piece)}</w:t>")
    inner = properties + "".join(content)
    return f"<w:r>{inner}</w:r>" if inner else "<w:r/>"


def _w_picture(shape_id: int, rid: str, name: str, cx: int, cy: int) -> str:
    """The paragraph python-docx's ``add_picture`` makes: picture ``shape_id`` of the document, relationship
    ``rid``, file ``name``, ``cx`` x ``cy`` EMU."""
    extent = f'cx="{cx}" cy="{cy}"'
    return ('<w:p><w:r><w:drawing><wp:inline xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
            f'<wp:extent {extent}/><wp:docPr id="{shape_id}" name="Picture {shape_id}"/><wp:cNvGraphicFramePr>'
            '<a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr><a:graphic><a:graphicData '
            'uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr>'
            f'<pic:cNvPr id="0" name="{_xml_attribute(name)}"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>'
            f'<a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm>'
            f'<a:off x="0" y="0"/><a:ext {extent}/></a:xfrm><a:prstGeom prst="rect"/></pic:spPr></pic:pic>'
            "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>")


def _docx_table(block: Table, size, text_width) -> str:
    """A Word table (and the empty paragraph python-docx's ``add_table`` leaves after it) with the block's
    relative column widths over ``text_width``; the header row repeats on every page the table runs onto, and
    rows may break across pages (Word wraps the cells).

    The table is written as WordprocessingML in one piece (the same elements python-docx makes, with the grid
    widths set): building 1,350 cells through python-docx's objects took a fifth of a pack's time."""
    rows = ([block.header] if block.header else []) + list(block.rows)
    widths = [round(text_width * w / 635) for w in block.widths or (0.3, 0.7)]  # EMU to twentieths of a point
    half_points = round(size.pt * 2)
    parts = ['<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:type="auto" w:w="0"/>'
             '<w:tblLayout w:type="fixed"/><w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" '
             'w:lastRow="0" w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr><w:tblGrid>',
             *(f'<w:gridCol w:w="{w}"/>' for w in widths), "</w:tblGrid>"]
    for r, values in enumerate(rows):
        header = r == 0 and block.header is not None
        parts.append("<w:tr><w:trPr><w:tblHeader/></w:trPr>" if header else "<w:tr>")
        for c, value in enumerate(values):
            bold = header or (c == 0 and block.header is None)
            text = _xml_text(_CR.sub("\n", str(value)))  # as an XML parser reads a carriage return
            parts.append(f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{widths[c]}"/></w:tcPr><w:p><w:r><w:rPr>'
                         f'{"<w:b/>" if bold else ""}<w:sz w:val="{half_points}"/></w:rPr>'
                         + (f'<w:t xml:space="preserve">{text}</w:t>' if text else '<w:t xml:space="preserve"/>')
                         + "</w:r></w:p></w:tc>")
        parts.append("</w:tr>")
    parts.append("</w:tbl><w:p/>")
    return "".join(parts)


_CR = re.compile("\r\n?")


def _xml_text(value: str) -> str:
    """Text for an XML element: escaped, characters XML 1.0 cannot hold replaced by ``?``."""
    from xml.sax.saxutils import escape

    return escape(_XML_BAD.sub("?", str(value)))


def _xml_attribute(value: str) -> str:
    """Text for a double-quoted XML attribute, escaped as lxml writes it."""
    from xml.sax.saxutils import escape

    return escape(_XML_BAD.sub("?", value), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _write_member(writer: zipfile.ZipFile, name: str, blob: bytes) -> None:
    """One part of a Word package, dated 1980-01-01 so the bytes are stable; images stored as they are (already
    compressed), the XML deflated."""
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED if name.endswith((".png", ".jpeg", ".jpg")) else zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    writer.writestr(info, blob)


@lru_cache(maxsize=4)
def _word_template(image_kinds: tuple[str, ...]) -> _WordTemplate:
    """The template of every statement whose distinct pictures are of ``image_kinds`` (``png``...): python-docx's
    default document set up as :func:`write_docx` writes it, with a mark where the body, the footer's text and
    the title go, saved once into a :class:`_WordTemplate`."""
    from docx import Document
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.pkgwriter import PackageWriter
    from docx.parts.image import ImagePart
    from docx.shared import Cm, Pt
    from PIL import Image as PilImage

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(_PAGE_CM[0]), Cm(_PAGE_CM[1])
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(_MARGIN_CM))
    document.styles["Normal"].font.name = "Arial"
    document.styles["Normal"].font.size = Pt(10)
    section.footer.paragraphs[0].add_run(_MARK)
    document.add_paragraph(_MARK)
    images = []
    for number, kind in enumerate(image_kinds):  # distinct stand-ins: python-docx shares identical images
        stand_in = io.BytesIO()
        PilImage.new("L", (1, 1), number % 256).save(stand_in, format="JPEG" if kind in ("jpg", "jpeg") else kind)
        rid, image = document.part.get_or_add_image(io.BytesIO(stand_in.getvalue()))
        images.append((rid, image.sha1))
    props = document.core_properties
    props.title, props.author, props.last_modified_by = _MARK, "geomatch", "geomatch"
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.revision = 1
    package = document.part.package
    parts = package.parts
    for part in parts:
        part.before_marshal()
    written = _PartsCollector()
    PackageWriter._write_content_types_stream(written, parts)
    PackageWriter._write_pkg_rels(written, package.rels)
    PackageWriter._write_parts(written, parts)
    by_sha1 = {part.image.sha1: part.partname.membername for part in parts if isinstance(part, ImagePart)}
    changing = {document.part.partname.membername: f"<w:p><w:r><w:t>{_MARK}</w:t></w:r></w:p>",
                section.footer.part.partname.membername: f"<w:r><w:t>{_MARK}</w:t></w:r>",
                next(p for p in parts if p.content_type == CT.OPC_CORE_PROPERTIES).partname.membername: _MARK}
    fixed = io.BytesIO()
    with zipfile.ZipFile(fixed, "w") as writer:
        for name, blob in written.members.items():
            if name not in changing and name not in by_sha1.values():  # the stand-ins' parts change too
                _write_member(writer, name, blob)
    halves = {name: tuple(written.members[name].decode("utf-8").split(mark)) for name, mark in changing.items()}
    if any(len(pair) != 2 for pair in halves.values()) or len(by_sha1) != len(images):
        raise RuntimeError("python-docx's template changed: the statement's marks are not found once each")
    names = tuple(changing)
    return _WordTemplate(fixed.getvalue(), *(halves[name] for name in names), names,
                         tuple((by_sha1[sha1], rid) for rid, sha1 in images))


class _PartsCollector:
    """python-docx's physical package writer (``write(pack_uri, blob)``) that keeps the parts, in order."""

    def __init__(self) -> None:
        self.members: dict[str, bytes] = {}

    def write(self, pack_uri, blob: bytes) -> None:
        self.members[pack_uri.membername] = blob


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


def _pdf_cells(rows: list, cell_style, column_widths: list[float]) -> list[list]:
    """A table's cells: the plain string where it fits on one line of its column (drawn directly, ten times
    faster to lay out), else a wrapping Paragraph (long words split too); ``cell_style(row, column)`` gives each
    cell's ParagraphStyle."""
    from reportlab.pdfbase.pdfmetrics import getFont
    from reportlab.platypus import Paragraph

    cells = []
    for r, values in enumerate(rows):
        row = []
        for c, value in enumerate(values):
            style, text = cell_style(r, c), str(value)
            fits = ("\n" not in text
                    and getFont(style.fontName).stringWidth(text, style.fontSize) <= column_widths[c] - 12)
            row.append(text if fits else Paragraph(escape_html(text), style))
        cells.append(row)
    return cells


def _pdf_row_heights(cells: list[list], cell_style) -> list[float | None]:
    """Each row's height as reportlab's ``Table`` measures it when all its cells are one-line strings (the
    tallest cell's leading and the padding above and below it), ``None`` for a row it must measure: given, the
    table does not measure every cell again each time it splits over a page."""
    from reportlab.platypus.tables import CellStyle

    padding = CellStyle("default").topPadding + CellStyle("default").bottomPadding
    return [max(cell_style(r, c).leading for c in range(len(row))) + padding
            if all(isinstance(v, str) for v in row) else None for r, row in enumerate(cells)]


@lru_cache(maxsize=1)
def _pdf_table_class():
    """reportlab's ``Table``, drawing a cell that is a plain string straight into the page: the operators
    ``Canvas.drawString`` writes, without the text object, the width and the bidirectional pass it makes per call
    (a points table has up to 1,350 cells: this was a third of the PDF's time). Any other cell, style or font is
    drawn by reportlab itself."""
    from reportlab.lib.rl_accel import fp_str
    from reportlab.pdfbase.pdfmetrics import getFont
    from reportlab.pdfgen.textobject import rtlSupport
    from reportlab.platypus import Table as PdfTable

    class PlainCellTable(PdfTable):
        def _drawCell(self, cellval, cellstyle, pos, size):  # noqa: N802 - reportlab's name
            canvas = self.canv
            font = getFont(cellstyle.fontname)
            if (not isinstance(cellval, str) or rtlSupport or not font._dynamicFont or not canvas.bottomup
                    or cellstyle.alignment != "LEFT" or cellstyle.valign != "TOP" or cellstyle.direction
                    or cellstyle.shaping or cellstyle.href or cellstyle.destination):
                return super()._drawCell(cellval, cellstyle, pos, size)
            current = self._curcellstyle  # the colour and font as reportlab's _drawCell sets them
            if current is not cellstyle:
                if current is None or cellstyle.color != current.color:
                    canvas.setFillColor(cellstyle.color)
                if (current is None or cellstyle.leading != current.leading
                        or cellstyle.fontname != current.fontname or cellstyle.fontsize != current.fontsize):
                    canvas.setFont(cellstyle.fontname, cellstyle.fontsize, cellstyle.leading)
                self._curcellstyle = cellstyle
            document, escape = canvas._doc, canvas._escape
            size_and_leading = f"{fp_str(cellstyle.fontsize)} Tf {fp_str(cellstyle.leading)} TL"
            x = pos[0] + cellstyle.leftPadding
            y = pos[1] + size[1] - cellstyle.topPadding - cellstyle.fontsize
            for line in cellval.split("\n"):
                code, subset_now = [], -1
                for subset, text in font.splitString(line, document):
                    if subset != subset_now:
                        code.append(f"{font.getSubsetInternalName(subset, document)} {size_and_leading}")
                        subset_now = subset
                    code.append(f"({escape(text)}) Tj")
                canvas._code.append(f"BT 1 0 0 1 {fp_str(x, y)} Tm {' '.join(code)} T* ET")
                y -= cellstyle.leading

    return PlainCellTable


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
            cells = _pdf_cells(rows, cell_style, col_widths)
            table = _pdf_table_class()(cells, colWidths=col_widths, rowHeights=_pdf_row_heights(cells, cell_style),
                                       repeatRows=1 if block.header else 0, splitByRow=1, splitInRow=1)
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
