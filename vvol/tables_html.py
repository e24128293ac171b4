"""Sortable, filterable tables in the offline HTML pages, drawn by the vendored Tabulator library.

``vvol/data/vendor/tabulator`` holds ``tabulator-tables`` 6.5.3 from the npm registry (MIT licence, see its
README): its script and style are inlined into each page, so the pages work with no network. Each table's rows
travel as JSON inside the page; Tabulator shows cell text through its plain-text formatter, which escapes HTML,
and the JSON is written with ``<``, ``>`` and ``&`` as ``\\u`` escapes, so no text in the data can end or
change the script element that carries it.
"""
from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd

VENDOR = ("data", "vendor", "tabulator")


def tabulator_assets() -> dict[str, str]:
    """The vendored ``script`` and ``style`` text (inlined into pages) and the library ``version``."""
    folder = resources.files("vvol").joinpath(*VENDOR)
    return {"script": folder.joinpath("tabulator.min.js").read_text(encoding="utf-8"),
            "style": folder.joinpath("tabulator_simple.min.css").read_text(encoding="utf-8"),
            "version": "tabulator-tables 6.5.3 (MIT)"}


def _json_value(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else round(float(value), 6)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def table_spec(frame: pd.DataFrame, *, element_id: str, titles: dict[str, str] | None = None,
               page_size: int = 25, wide: tuple[str, ...] = ("reasons", "members")) -> str:
    """A Tabulator configuration (JSON) for ``frame``: every column sortable (numbers as numbers) with a filter
    box under its title (text contains, numbers: a value or a range such as ``>= 50``), paginated.

    Args:
        element_id: the id of the ``<div>`` the table goes in.
        titles: readable column titles (defaults: the column names).
        wide: columns that wrap their text instead of widening the table.
    """
    titles = titles or {}
    columns = []
    for i, name in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[name].dtype) and not pd.api.types.is_bool_dtype(frame[name])
        column = {"title": titles.get(name, name), "field": f"c{i}", "headerFilter": "input",
                  "headerFilterPlaceholder": ">= 50, < 3 or 7" if numeric else "contains",
                  "sorter": "number" if numeric else "string", "hozAlign": "right" if numeric else "left",
                  "headerFilterFunc": "numberFilter" if numeric else "like"}
        if name in wide:
            column.update({"formatter": "textarea", "widthGrow": 3, "minWidth": 320})
        columns.append(column)
    data = [{f"c{i}": _json_value(v) for i, v in enumerate(row)} for row in frame.itertuples(index=False)]
    spec = {"id": element_id, "data": data, "columns": columns, "pageSize": page_size}
    text = json.dumps(spec, ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


BOOT_SCRIPT = r"""
function numberFilter(headerValue, rowValue) {
  var m = String(headerValue).trim().match(/^(<=|>=|<|>|=)?\s*(-?[0-9.]+)$/);
  if (!m) { return String(rowValue).indexOf(headerValue) >= 0; }
  var v = parseFloat(m[2]), x = parseFloat(rowValue);
  if (isNaN(x)) { return false; }
  switch (m[1]) { case "<": return x < v; case "<=": return x <= v; case ">": return x > v;
                  case ">=": return x >= v; default: return x === v; }
}
document.querySelectorAll("script.vvol-table").forEach(function (node) {
  var spec = JSON.parse(node.textContent);
  spec.columns.forEach(function (c) { if (c.headerFilterFunc === "numberFilter") { c.headerFilterFunc = numberFilter; } });
  new Tabulator("#" + spec.id, {data: spec.data, columns: spec.columns, layout: "fitDataStretch",
    pagination: spec.data.length > spec.pageSize, paginationSize: spec.pageSize,
    paginationSizeSelector: [10, 25, 50, 100, true], movableColumns: true, maxHeight: "80vh",
    placeholder: "No rows"});
});
"""
"""Runs once at the end of a page: builds every table from its JSON (``<script class="vvol-table">``)."""
