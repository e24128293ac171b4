"""``vvol score`` end to end through click: the tasking pack, its safety and determinism, and exit codes."""
from __future__ import annotations

import datetime
import json

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from geomatch.core.manifest import verify_manifest
from tests.vvol.helpers import CHROMIUM, render_in_chromium
from vvol import synth

LISTS = {"victims": "person_id", "offenders": "person_id", "locations": "location_id", "clusters": "cluster_id"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A small synthetic set with a hostile person id and premises id planted in it."""
    data = synth.generate(3000, seed=7)
    crimes, people = data.crimes.copy(), data.people.copy()
    pub = crimes["premises_id"] == data.truth.pub_premises
    crimes.loc[pub, "premises_id"] = "=HYPERLINK(\"http://x\")<script>alert(1)</script>"
    people.loc[people["person_id"] == "PG01", "person_id"] = "<b>PG01</b>"
    directory = tmp_path_factory.mktemp("vvol-sample")
    crimes.to_csv(directory / "crimes.csv", index=False)
    people.to_csv(directory / "people.csv", index=False)
    return directory, data


@pytest.fixture(scope="module")
def pack(sample, tmp_path_factory):
    """One scored pack of the sample (and the command's output), shared by the read-only tests."""
    directory, _ = sample
    out = tmp_path_factory.mktemp("vvol-pack") / "pack"
    result = _score(directory, out)
    assert result.exit_code == 0, result.output
    return out, result.output


def _score(directory, out, *extra):
    result = CliRunner().invoke(cli.vvol, ["score", "--crimes", str(directory / "crimes.csv"), "--people",
                                           str(directory / "people.csv"), "--as-of", "2026-10-31", "--period",
                                           "90d", "--out", str(out), "--no-progress", *extra])
    return result


def test_score_writes_a_complete_verified_pack(sample, pack):
    _, data = sample
    pack, output = pack
    assert "crimes: 3,0" in output and "quarantined" in output
    assert "pack: " in output and "index.html" in output
    for name in ["index.html", "tasking.xlsx", "manifest.json", "quarantine/crimes.csv", "quarantine/people.csv",
                 *(f"{n}.csv" for n in LISTS)]:
        assert (pack / name).is_file(), name
    assert verify_manifest(pack) == []
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["tool"] == "vvol score" and manifest["parameters"]["period_days"] == 90
    assert manifest["counts"]["crimes"]["rows_in"] == len(data.crimes)
    assert manifest["harm_table"]["year"] == "2016"
    for name, id_column in LISTS.items():
        frame = pd.read_csv(pack / f"{name}.csv", keep_default_na=False)
        assert list(frame.columns[:4]) == ["rank", id_column, "score", "tied_on_score"]
        assert frame.columns[-1] == "reasons"
        assert "recency_points" in frame.columns and "frequency_points" in frame.columns
        ordered = frame.sort_values(["score", "harm_12m", "crimes_12m", "days_since_last", id_column],
                                    ascending=[False, False, False, True, True], kind="stable")
        assert frame[id_column].tolist() == ordered[id_column].tolist()


def test_input_text_is_escaped_and_neutralised(pack):
    pack, _ = pack
    html = (pack / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<b>PG01</b>" not in html
    assert "\\u003cb\\u003ePG01\\u003c/b\\u003e" in html  # table data: JSON with < > & escaped
    # offline: no CDN, no tiles; links only to the pack's own files
    assert "<link" not in html and 'src="http' not in html and 'href="http' not in html
    locations = pd.read_csv(pack / "locations.csv", dtype=str, keep_default_na=False)
    assert any(v.startswith("'P:=") or v.startswith("P:=") for v in locations["location_id"])
    sheet = openpyxl.load_workbook(pack / "tasking.xlsx")["clusters"]
    texts = [c.value for row in sheet.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)


def test_workbook_sheets_are_typed_with_frozen_headers(pack):
    pack, _ = pack
    book = openpyxl.load_workbook(pack / "tasking.xlsx")
    assert book.sheetnames == ["victims", "offenders", "locations", "clusters", "about"]
    sheet = book["offenders"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Rank", "Person id", "Score"] and sheet.freeze_panes == "C2"
    row = {h: c.value for h, c in zip(header, sheet[2])}
    assert isinstance(row["Score"], float) and isinstance(row["Crimes 12m"], int)
    assert isinstance(row["Also victim"], bool)
    assert isinstance(row["Last crime"], datetime.datetime)  # a date, not text
    assert sheet.column_dimensions["B"].width >= len("Person id")
    # a real Excel table (sort and filter buttons) over every row, and a colour scale on the score
    (table,) = sheet.tables.values()
    assert table.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}{sheet.max_row}"
    assert any("ColorScale" in str(rule.colorScale.__class__) for rules in sheet.conditional_formatting
               for rule in rules.rules)


def test_pack_is_deterministic(sample, pack, tmp_path):
    directory, _ = sample
    pack, _ = pack
    assert _score(directory, tmp_path / "again").exit_code == 0
    first = json.loads((pack / "manifest.json").read_text())["outputs"]
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())["outputs"]
    assert first == second


def test_planted_problems_top_the_lists(sample, pack):
    _, data = sample
    pack, _ = pack
    offenders = pd.read_csv(pack / "offenders.csv", keep_default_na=False)
    assert data.truth.prolific_offenders[0] in offenders["person_id"].head(3).tolist()
    victims = pd.read_csv(pack / "victims.csv", keep_default_na=False)
    top = victims["person_id"].head(5).tolist()
    assert data.truth.repeat_victims[0] in top and data.truth.triads[0][0] in top
    clusters = pd.read_csv(pack / "clusters.csv", keep_default_na=False)
    triad_victim, triad_offender, home = data.truth.triads[0]
    assert any(all(m in text for m in (triad_victim, triad_offender, home)) for text in clusters["members"])
    pub = clusters[clusters["members"].str.contains("script")].iloc[0]
    assert pub["people"] == 6 and pub["crimes_12m"] == 36
    locations = pd.read_csv(pack / "locations.csv", keep_default_na=False)
    hot = locations[locations["kind"] == "hotspot"]
    sx, sy = data.truth.station_xy
    assert ((hot["easting"] - sx).abs().lt(30) & (hot["northing"] - sy).abs().lt(30)).any()


def test_missing_column_exits_2_with_one_sentence(sample, tmp_path):
    directory, _ = sample
    broken = tmp_path / "crimes.csv"
    pd.read_csv(directory / "crimes.csv").drop(columns=["offence"]).to_csv(broken, index=False)
    result = CliRunner().invoke(cli.vvol, ["score", "--crimes", str(broken), "--people",
                                           str(directory / "people.csv"), "--as-of", "2026-10-31", "--out",
                                           str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2
    assert "column 'offence'" in result.output and result.output.count("\n") == 1


def test_bad_as_of_and_period_exit_2(sample, tmp_path):
    directory, _ = sample
    assert _score(directory, tmp_path / "x", "--as-of", "soon").exit_code == 2
    result = _score(directory, tmp_path / "y", "--period", "fortnight")
    assert result.exit_code == 2 and "period" in result.output


def test_config_file_and_force_harm_table_through_the_command(sample, tmp_path):
    directory, _ = sample
    (tmp_path / "harm.csv").write_text(
        "# source: Example force, flat weights for a test\n# year: 2026\nkey,label,weight,basis,ho_codes,aliases\n"
        + "".join(f"{k},{k},1,force,{c},\n" for k, c in
                  [("common_assault", "105A"), ("assault_with_injury", "8N"), ("harassment", ""),
                   ("criminal_damage", ""), ("burglary_residential", ""), ("burglary_business", ""),
                   ("robbery_personal", ""), ("theft_from_person", ""), ("theft_of_vehicle", ""),
                   ("theft_from_vehicle", ""), ("shoplifting", ""), ("other_theft", ""), ("public_order", ""),
                   ("stalking", ""), ("possession_of_weapons", "")]), encoding="utf-8")
    (tmp_path / "force.toml").write_text('harm_table = "harm.csv"\nmin_repeat = 3\n', encoding="utf-8")
    result = _score(directory, tmp_path / "pack", "--config", str(tmp_path / "force.toml"), "--period", "28d")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert manifest["parameters"]["min_repeat"] == 3 and manifest["parameters"]["period_days"] == 28
    assert manifest["harm_table"]["source"] == "Example force, flat weights for a test"
    assert any(entry["path"].endswith("force.toml") for entry in manifest["inputs"])
    victims = pd.read_csv(tmp_path / "pack" / "victims.csv")
    assert (victims["crimes_12m"] >= 3).all()
    assert (victims["harm_12m"] == victims["crimes_12m"]).all()  # every crime weighs 1 in the force table


@pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (.ci/run installs it)")
def test_pack_tables_work_in_a_browser(pack, tmp_path):
    pack, _ = pack
    dom = render_in_chromium(pack / "index.html", tmp_path / "profile")
    # every list and the per-file balance became a Tabulator table with a filter box under each title
    for element in ("list-victims", "list-offenders", "list-locations", "list-clusters", "files"):
        assert f'id="{element}" class="tabulator' in dom, element
    assert dom.count("tabulator-header-filter") > 40 and dom.count('class="tabulator-row ') > 50
    # hostile input text is shown as text, never run or parsed as markup
    assert "<b>PG01</b>" not in dom and "<script>alert" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom or "&lt;b&gt;PG01&lt;/b&gt;" in dom
