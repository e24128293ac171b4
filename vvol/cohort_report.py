"""The cohort report: ``cohort.html``, ``cohort.xlsx``, ``people.csv``, ``statistics.csv``, ``top50.csv``,
``quarantine/`` and ``manifest.json``.

Every sentence of the page is built from the measured numbers (:func:`vvol.cohort_stats.verdict`); figures are
matplotlib PNGs inlined in the page; tables are sortable and filterable (:mod:`vvol.tables_html`).
"""
from __future__ import annotations

import base64
import io
from importlib import resources
from pathlib import Path

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from geomatch.core.manifest import write_manifest  # noqa: E402
from geomatch.core.safe import write_safe_csv  # noqa: E402
from vvol.cohort import MEASURES, WINDOWS, day_text  # noqa: E402
from vvol.cohort_pipeline import CohortResult  # noqa: E402
from vvol.cohort_stats import ALPHA, CALIPER_SD, MIN_MONTHS, rate, verdict  # noqa: E402
from vvol.tables_html import BOOT_SCRIPT, table_spec, tabulator_assets  # noqa: E402
from vvol.workbook import add_table_sheet, add_text_sheet, save_stable  # noqa: E402

UNITS = {"crimes": "crimes", "harm": "harm points", "cost": "£"}
WINDOW_COLOURS = {"before": "#c44e52", "during": "#dd8452", "after": "#4c72b0"}
STAT_COLUMNS = ["measure", "comparison", "n", "mean_before", "mean_after", "mean_change", "ci_low", "ci_high",
                "pct_change", "p_signed_rank", "matched_pairs", "comparison_mean_before", "comparison_mean_after",
                "comparison_mean_change", "did", "did_ci_low", "did_ci_high", "did_p_signed_rank"]


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def windows_chart(people: pd.DataFrame, comparison: pd.DataFrame | None) -> bytes:
    """Mean rate per 12 months at risk before, during and after, one panel per measure; the matched comparison
    group beside the members when there is one. Each bar is labelled with its value and its number of people."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    groups = [("members", people)] + ([("matched comparison", comparison)] if comparison is not None else [])
    width = 0.8 / len(groups)
    for ax, measure in zip(axes, MEASURES):
        for g, (label, frame) in enumerate(groups):
            for w, window in enumerate(WINDOWS):
                values = rate(frame, measure, window)
                values = values[np.isfinite(values)]
                mean = float(values.mean()) if len(values) else 0.0
                x = w + (g - (len(groups) - 1) / 2) * width
                ax.bar(x, mean, width=width * 0.95, color=WINDOW_COLOURS[window],
                       alpha=1.0 if g == 0 else 0.45, hatch=None if g == 0 else "//", edgecolor="#333333",
                       label=label if w == 0 else None)
                ax.annotate(f"{mean:,.0f}\nn={len(values)}" if measure == "cost" else f"{mean:,.1f}\nn={len(values)}",
                            (x, mean), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(WINDOWS)), WINDOWS)
        ax.set_title(f"{measure}: mean per member per 12 months at risk", fontsize=9)
        ax.set_ylabel(UNITS[measure])
        ax.margins(y=0.2)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return _png(fig)


def slope_chart(people: pd.DataFrame, measure: str = "crimes") -> bytes:
    """One line per member from before through during to after (rate per 12 months at risk), the median in
    black; a symmetric-log axis keeps the many low offenders and the few prolific ones on one picture."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    values = np.column_stack([rate(people, measure, w) for w in WINDOWS])
    segments = [np.column_stack([np.arange(3)[np.isfinite(row)], row[np.isfinite(row)]]) for row in values]
    ax.add_collection(LineCollection(segments, colors="#4c72b0", linewidths=0.8,
                                     alpha=max(0.04, min(0.5, 30 / max(len(values), 1)))))
    ax.scatter(np.tile(np.arange(3), len(values)), values.ravel(), s=4, color="#4c72b0",
               alpha=max(0.04, min(0.5, 30 / max(len(values), 1))), linewidths=0)
    median = np.array([np.nanmedian(values[:, i]) if np.isfinite(values[:, i]).any() else np.nan for i in range(3)])
    ax.plot(np.arange(3), median, color="black", lw=3, marker="o", label="median")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xticks(range(3), [f"{w}\n(n={int(np.isfinite(values[:, i]).sum())})" for i, w in enumerate(WINDOWS)])
    ax.set_ylabel(f"{UNITS[measure]} per 12 months at risk (symlog)")
    ax.set_title(f"Each member's {measure} rate, before / during / after ({len(values)} members)", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return _png(fig)


def rtm_text(result: CohortResult, cohort: str) -> str:
    """The regression-to-the-mean warning with this cohort's measured peak."""
    late, steady = result.peaks[cohort]
    quarter = max(result.settings.window_months // 4, 1)
    text = ("People are usually chosen for IOM when their offending is at a peak, and offending at a peak tends to "
            "fall afterwards whatever is done (regression to the mean), so a fall after joining is expected even "
            "if management achieved nothing. ")
    if np.isfinite(late):
        text += (f"In this cohort {100 * late:.0f}% of the crimes of the {result.settings.window_months}-month "
                 f"before window fell in its last {quarter} months, against {100 * steady:.0f}% at a steady "
                 f"rate" + ("; offending was rising into the start, so expect a larger fall."
                            if late > steady + 0.05 else "."))
    matched = result.matched[cohort]
    if matched is None:
        text += (" No offenders outside the cohort are in the people file, so no comparison group could be "
                 "matched: the changes below cannot be credited to management.")
    else:
        text += (" The comparison group (offenders never in any cohort, matched on prior offending) shows how much "
                 "of the fall is expected anyway; the difference in differences is the change beyond it.")
    return text


def write_cohort(result: CohortResult, out: Path | str, *, inputs: list[Path]) -> list[Path]:
    """Write the whole report into ``out``; return the files written (the manifest last)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    people_path = out / "people.csv"
    write_safe_csv(result.table, people_path)
    statistics = pd.concat([frame.assign(cohort=name) for name, frame in result.statistics.items()],
                           ignore_index=True)
    statistics = statistics[["cohort"] + [c for c in STAT_COLUMNS if c in statistics]]
    stats_path = out / "statistics.csv"
    write_safe_csv(statistics, stats_path)
    top = pd.concat([frame.assign(cohort=name) for name, frame in result.top.items()], ignore_index=True) \
        if result.top else pd.DataFrame()
    if len(top):
        top = top[["cohort"] + [c for c in top.columns if c != "cohort"]]
    top_path = out / f"top{result.settings.top_n}.csv"
    write_safe_csv(top, top_path)
    written += [people_path, stats_path, top_path]
    quarantine = out / "quarantine"
    for validated in (result.members, result.crimes, result.people):
        written.append(validated.write_quarantine(quarantine))
    written.append(write_cohort_workbook(result, statistics, top, out / "cohort.xlsx"))
    written.append(write_cohort_html(result, out / "cohort.html"))
    manifest = write_manifest(out, tool="vvol cohort", parameters=result.settings, inputs=inputs, outputs=written,
                              counts=result.counts(), extra={
                                  "as_of": str(day_text(np.array([result.as_of_day]))[0]),
                                  "data_from": str(day_text(np.array([result.data_from_day]))[0]),
                                  "harm_table": result.harm.describe(), "cost_table": result.costs.describe()})
    return written + [manifest]


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Figures to 3 decimals, p-values to 3 significant digits (a p of 1e-17 must not show as 0)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].map(lambda v: float(f"{v:.3g}")) if column.startswith(("p_", "did_p")) \
                else out[column].round(3)
    return out


def _dates(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = pd.to_datetime(out[column].replace("", None), format="%Y-%m-%d")
    return out


def write_cohort_workbook(result: CohortResult, statistics: pd.DataFrame, top: pd.DataFrame, path: Path) -> Path:
    """``cohort.xlsx``: statistics, people (dates as dates), the top lists, the matched pairs and balance, notes."""
    book = Workbook()
    book.remove(book.active)
    day_columns = ["start", "end", "left_area"] + [f"{w}_{s}" for w in WINDOWS for s in ("from", "to")]
    add_table_sheet(book, "statistics", _rounded(statistics), freeze_columns=3)
    add_table_sheet(book, "people", _dates(result.table, day_columns), dates={c: "yyyy-mm-dd" for c in day_columns},
                    freeze_columns=2, scores=tuple(f"crimes_{w}" for w in WINDOWS))
    add_table_sheet(book, f"top{result.settings.top_n}", top, freeze_columns=3, scores=("score",))
    pairs = [m.pairs.assign(cohort=name) for name, m in result.matched.items() if m is not None]
    if pairs:
        add_table_sheet(book, "matched_pairs", pd.concat(pairs, ignore_index=True))
        add_table_sheet(book, "balance", pd.concat([m.balance.assign(cohort=name) for name, m in
                                                    result.matched.items() if m is not None], ignore_index=True))
    notes = [["V-VOL cohort report", ""], *[[k, v] for k, v in explain(result).items()]]
    notes += [[f"verdict {name}: {row['measure']} {row['comparison']}", verdict(row)]
              for name, frame in result.statistics.items() for _, row in frame.iterrows()]
    add_text_sheet(book, "about", notes)
    return save_stable(book, path, pd.Timestamp(str(np.datetime64(result.as_of_day, "D"))))


def explain(result: CohortResult) -> dict[str, str]:
    """The rules of this report in words (page and workbook)."""
    s = result.settings
    costs = result.costs
    return {
        "windows": f"before: the {s.window_months} months up to the day before start; during: start to end (to the "
                   f"as-of day {day_text(np.array([result.as_of_day]))[0]} while managed); after: the "
                   f"{s.window_months} months from the day after end (none while managed). UK calendar days; a "
                   f"crime belongs to its UK local day.",
        "observed": f"crimes data from {day_text(np.array([result.data_from_day]))[0]} to the as-of day; a window "
                    f"is observed only inside that span and before the day a person left the area; months at risk "
                    f"are calendar months (12 for any full year, leap or not).",
        "counted": "crimes where the person is the offender" + (" or a suspect" if s.include_suspects else "")
                   + "; never as a victim; a crime counts once per person.",
        "harm": f"harm points from {result.harm.source} ({result.harm.year}); see vvol/data/harm_weights.csv.",
        "cost": f"unit costs: {costs.source} (year {costs.year}, {costs.price_year} prices); "
                f"{result.ledger.uncosted:,} crimes of the offence ledger have no unit cost and add £0.",
        "statistics": f"rates per 12 months at risk; members with {MIN_MONTHS:g}+ months in both windows; mean "
                      f"change with a {s.n_boot:,}-resample percentile bootstrap 95% CI (seed {s.seed}); Wilcoxon "
                      f"signed-rank test (two-sided, Pratt zeros); 'unlikely to be chance' means p < {ALPHA} and a "
                      f"CI that excludes 0. Six comparisons are made per cohort, so one in twenty of them may pass "
                      f"by chance alone.",
        "comparison group": f"offenders in the people file never in any cohort; propensity score from a logistic "
                            f"regression (scikit-learn) on log(1 + crimes and harm in the 12 months before, crimes "
                            f"in the last 3 months before and in months 13-24 before) at the member's start day; "
                            f"nearest neighbour with replacement within {CALIPER_SD} SD of the logit; each match "
                            f"gets its member's calendar windows; difference in differences = member change - "
                            f"matched change.",
        "top list": f"the cohort's members ranked by their V-VOL offender score (recency, frequency, gravity, "
                    f"victims) over the 365 days up to the as-of day; top {s.top_n}.",
    }


def write_cohort_html(result: CohortResult, path: Path) -> Path:
    """``cohort.html``: per cohort, the charts, the statistics in words and as a table, the caveats, the people
    and the top list (sortable, filterable tables)."""
    sections = []
    for index, name in enumerate(result.cohorts):
        people = result.table[result.table["cohort"] == name].reset_index(drop=True)
        matched = result.matched[name]
        stats = result.statistics[name]
        sections.append({
            "name": name, "anchor": f"cohort-{index}", "members": len(people),
            "ended": int((people["status"] == "ended").sum()),
            "windows_chart": _data_uri(windows_chart(people, matched.comparison if matched is not None else None)),
            "slope_chart": _data_uri(slope_chart(people)),
            "rtm": rtm_text(result, name),
            "verdicts": [verdict(row) for _, row in stats.iterrows()],
            "matched": None if matched is None else {
                "pairs": len(matched.pairs), "candidates": matched.candidates, "unmatched": matched.unmatched,
                "table": table_spec(matched.balance, element_id=f"balance-{index}", page_size=10)},
            "stats_table": table_spec(_rounded(stats[[c for c in STAT_COLUMNS if c in stats]]),
                                      element_id=f"stats-{index}", page_size=10),
            "people_table": table_spec(people, element_id=f"people-{index}"),
            "top_table": table_spec(result.top[name][["rank", "person_id", "score", "recency_points",
                                                      "frequency_points", "gravity_points", "victims_points",
                                                      "crimes_12m", "harm_12m", "trend", "reasons"]],
                                    element_id=f"top-{index}") if len(result.top[name]) else None,
        })
    files = pd.concat([frame.assign(table=name) for name, frame in result.files.items()], ignore_index=True)
    files = files.assign(source_file=files["source_file"].map(lambda p: Path(p).name))
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(
        resources.files("vvol").joinpath("data", "cohort.html.j2").read_text(encoding="utf-8"))
    html = template.render(
        as_of=day_text(np.array([result.as_of_day]))[0], data_from=day_text(np.array([result.data_from_day]))[0],
        settings=result.settings, sections=sections, rules=explain(result), assets=tabulator_assets(),
        boot=BOOT_SCRIPT, files_table=table_spec(files[["table", "source_file", "rows_in", "accepted",
                                                        "quarantined", "ok"]], element_id="files", page_size=20),
        reasons={name: getattr(result, name).reason_counts() for name in ("members", "crimes", "people")},
        top_n=result.settings.top_n)
    path.write_text(html, encoding="utf-8")
    return path
