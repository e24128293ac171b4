"""The catalogue of hostile inputs and faults, run against the real command line (docs/hostile-inputs.md).

Each case builds its input in a fresh folder, runs ``geomatch`` or ``vvol`` through click's CliRunner and checks
the class of answer it must give:

- ``error``: exit code 2, one line ``error: ...`` naming the file (and column or row where one is at fault),
  no traceback;
- ``broken``: exit code 1 from a check command (``verify``, ``audit verify``) naming what is wrong;
- ``result``: exit code 0 and the right result (checked by the case).
"""
from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cli import geomatch, vvol
from geomatch.store import add_review, record_run
from geomatch.store.chain import event_hash
from geomatch.store.keys import using_key, AuditKey
from geomatch.simulate.world import simulate_world, write_world

ESC_TITLE = "\x1b]0;pwned\x07"  # sets the terminal window's title
ESC_CLIPBOARD = "\x1b]52;c;ZWNobyBvd25lZA==\x07"  # writes the clipboard (OSC 52)
CONTROLS = "A\x00B\x01C\x1bD\x7fE"
KEY = "k" * 40


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-world")
    write_world(simulate_world(n_subjects=4, days=1, seed=3), folder)
    return folder


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make`` builds it in a folder and returns (command group, arguments); ``expect`` is
    error, broken or result; ``check`` looks at the result beyond its class; ``says`` must appear in the output."""

    name: str
    make: Callable[[Path, Path], tuple]
    expect: str
    says: str = ""
    check: Callable[[Result, Path], None] | None = None
    env: dict | None = None


# ---- stores ------------------------------------------------------------------------------------------------


def _store(folder: Path, *, crime_ref: str = "CR-1", subject: str = "S-1", free_text: str = "Shed door forced",
           note: str = "", by: str = "DC 101", key: str | None = None) -> str:
    """A SQLite store with two hits (H1 on ``crime_ref``, H2), a review of H1, recorded with ``key`` if given."""
    url = f"sqlite:///{folder / 'store.db'}"
    crimes = pd.DataFrame({"crime_ref": [crime_ref, "CR-2"], "offence": "burglary_residential",
                           "free_text": [free_text, "plain"]})
    hits = pd.DataFrame({"hit_id": ["H1", "H2"], "subject_id": [subject, "S-2"], "crime_ref": crimes["crime_ref"],
                         "offence": "burglary_residential", "presence": "observed", "min_distance_m": [12.5, 40.0],
                         "score": [71.0, 35.0]})
    with using_key(AuditKey(key.encode()) if key else None):
        record_run(url, hits, crimes, received_at=pd.Timestamp("2026-10-20T10:00Z").to_pydatetime())
        add_review(url, "H1", outcome="arrest", by=by, note=note,
                   at=pd.Timestamp("2026-10-21T10:00Z").to_pydatetime())
    return url


def _sql(url: str, *statements: str) -> None:
    """Statements run straight on the SQLite file, as someone with write access to the database would."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        for statement in statements:
            conn.execute(statement)


def _forge_chain(url: str, note: str) -> None:
    """Rewrite review event 1's note and recompute the whole chain without the key (a forger's work)."""
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER review_events_no_update")
        seq, hit_id, at, by, outcome = conn.execute(
            "SELECT seq, hit_id, at, by, outcome FROM review_events WHERE seq = 1").fetchone()
        at = pd.Timestamp(at, tz="UTC").to_pydatetime()
        forged = event_hash(seq=1, hit_id=hit_id, at=at, by=by, outcome=outcome, note=note, prev_hash="0" * 64)
        conn.execute("UPDATE review_events SET note = ?, hash = ? WHERE seq = 1", (note, forged))
        conn.execute("UPDATE chain_head SET hash = ? WHERE id = 1", (forged,))


def _forge_hit(url: str) -> None:
    """Edit hit H1's score in its typed column and its recorded content, recompute its hash and reseal the hits
    without the key."""
    import hashlib

    from geomatch.store.engine import get_engine, write_transaction
    from geomatch.store.seal import seal_hits

    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        detail = json.loads(conn.execute("SELECT detail FROM hits WHERE hit_id = 'H1'").fetchone()[0])
        detail["score"] = 5.0
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        conn.execute("UPDATE hits SET score = 5.0, detail = ?, content_sha256 = ? WHERE hit_id = 'H1'",
                     (text, hashlib.sha256(text.encode()).hexdigest()))
    with using_key(None), write_transaction(get_engine(url)) as conn:
        seal_hits(conn, 1)


def _db(folder: Path, **store) -> str:
    return _store(folder, **store)


# ---- the cases ---------------------------------------------------------------------------------------------


def _xlsx_cells(path: Path) -> list:
    book = openpyxl.load_workbook(path)
    return [c.value for sheet in book for row in sheet.iter_rows() for c in row]


def _audit_xlsx_escapes_controls(result: Result, folder: Path) -> None:
    cells = _xlsx_cells(folder / "audit.xlsx")
    assert "A\\x00B\\x01C\\x1bD\\x7fE" in cells and "'-note\\x1b[2J" in cells
    assert not any(isinstance(v, str) and "\x00" in v for v in cells)


def _audit_csv_escapes_controls(result: Result, folder: Path) -> None:
    text = (folder / "audit.csv").read_text(encoding="utf-8")
    assert "A\\x00B\\x01C\\x1bD\\x7fE" in text and "\x00" not in text and "\x1b" not in text


def _no_raw_escapes(result: Result, folder: Path) -> None:
    assert "\x1b" not in result.output and "\x07" not in result.output and "\x00" not in result.output
    assert "\\x1b]0;pwned\\x07" in result.output or "\\x1b]52;" in result.output


def _vvol_pack_escapes(result: Result, folder: Path) -> None:
    cells = _xlsx_cells(folder / "pack" / "tasking.xlsx")
    assert any(isinstance(v, str) and "P\\x00\\x1b]0;x\\x07" in v for v in cells)
    assert "\x00" not in (folder / "pack" / "victims.csv").read_text(encoding="utf-8")


def _vvol_inputs(folder: Path, person: str) -> tuple:
    crimes = pd.read_csv("sample_data/vvol/crimes.csv", dtype=str)
    people = pd.read_csv("sample_data/vvol/people.csv", dtype=str)
    victims = people.index[people["role"] == "victim"][:4]
    people.loc[victims, "person_id"] = person  # one repeat victim whose id holds control characters
    people.loc[victims, "crime_ref"] = crimes.sort_values("committed_from")["crime_ref"].iloc[-4:].to_numpy()
    crimes.to_csv(folder / "crimes.csv", index=False)
    people.to_csv(folder / "people.csv", index=False)
    return vvol, ["score", "--crimes", str(folder / "crimes.csv"), "--people", str(folder / "people.csv"),
                  "--as-of", crimes["committed_from"].max()[:10], "--out", str(folder / "pack"), "--no-progress"]


def _match_out(world: Path, folder: Path) -> Path:
    out = folder / "run"
    result = CliRunner().invoke(geomatch, ["match", "--trails", str(world / "trails.parquet"), "--crimes",
                                           str(world / "crimes.csv"), "--out", str(out), "--no-score"])
    assert result.exit_code == 0, result.output
    return out


def _truncate_manifest(world: Path, folder: Path) -> tuple:
    out = _match_out(world, folder)
    text = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(text[: len(text) // 2])
    return geomatch, ["verify", str(out)]


def _binary_manifest(world: Path, folder: Path) -> tuple:
    out = _match_out(world, folder)
    (out / "manifest.json").write_bytes(_junk(512) + b"\xff")
    return geomatch, ["verify", str(out)]


def _manifest_not_a_manifest(world: Path, folder: Path) -> tuple:
    out = _match_out(world, folder)
    (out / "manifest.json").write_text("[1, 2, 3]")
    return geomatch, ["verify", str(out)]


def _manifest_outside(world: Path, folder: Path) -> tuple:
    out = _match_out(world, folder)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["outputs"].append({"path": "../../etc/passwd", "sha256": "0" * 64, "bytes": 1})
    (out / "manifest.json").write_text(json.dumps(manifest))
    return geomatch, ["verify", str(out)]


def _rescored_in_place(world: Path, folder: Path) -> tuple:
    out = _match_out(world, folder)
    result = CliRunner().invoke(geomatch, ["score", "--hits", str(out / "hits.parquet"), "--trails",
                                           str(world / "trails.parquet")])
    assert result.exit_code == 0, result.output
    return geomatch, ["verify", str(out)]


def _score_next_to_truncated_manifest(world: Path, folder: Path) -> tuple:
    _truncate_manifest(world, folder)
    return geomatch, ["score", "--hits", str(folder / "run" / "hits.parquet"), "--trails",
                      str(world / "trails.parquet")]


def _extra_file(world: Path, folder: Path) -> tuple:
    out = _match_out(world, folder)
    (out / "quarantine" / "planted.csv").write_text("subject_id\nS-999\n")
    return geomatch, ["verify", str(out)]


def _audit_with(folder: Path, out: str, **store) -> tuple:
    url = _db(folder, **store)
    return geomatch, ["audit", "--month", "2026-10", "--out", str(folder / out), "--db", url,
                      "--as-of", "2026-11-01"]


def _hits_show(folder: Path, **store) -> tuple:
    return geomatch, ["hits", "show", "H1", "--db", _db(folder, **store)]


def _verify_after(change: Callable[[str], None], *, key: str | None = None, verify_key: str | None = None):
    def make(world: Path, folder: Path) -> tuple:
        url = _db(folder, key=key)
        change(url)
        args = ["audit", "verify", "--db", url]
        if verify_key is not None:
            (folder / "audit.key").write_text(verify_key + "\n")
            args += ["--key-file", str(folder / "audit.key")]
        return geomatch, args
    return make


def _match_with(world: Path, folder: Path, *options: str, config: str | None = None) -> tuple:
    args = ["match", "--trails", str(world / "trails.parquet"), "--crimes", str(world / "crimes.csv"),
            "--out", str(folder / "out"), *([] if "--score-model" in options else ["--no-score"]), *options]
    if config is not None:
        (folder / "match.toml").write_text(config)
        args += ["--config", str(folder / "match.toml")]
    return geomatch, args


def _unicode_store(world: Path, folder: Path) -> tuple:
    url = _store(folder, crime_ref="CR-ŁÓDŹ-東京-🚓", subject="Ödön Σωκράτης", free_text="Ꭰ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u202eevil",
                 note="Zoë’s note — «ok»", by="PC Ñúñez")
    return geomatch, ["audit", "--month", "2026-10", "--out", str(folder / "audit.xlsx"), "--db", url,
                      "--as-of", "2026-11-01"]


def _unicode_audit(result: Result, folder: Path) -> None:
    cells = _xlsx_cells(folder / "audit.xlsx")
    assert "CR-ŁÓDŹ-東京-🚓" in cells and "Ödön Σωκράτης" in cells and "Zoë’s note — «ok»" in cells


def _huge_field(world: Path, folder: Path) -> tuple:
    crimes = pd.read_csv(world / "crimes.csv", dtype=str)
    crimes.loc[0, "free_text"] = "x" * 2_000_000
    crimes.to_csv(folder / "crimes.csv", index=False)
    return geomatch, ["match", "--trails", str(world / "trails.parquet"), "--crimes", str(folder / "crimes.csv"),
                      "--out", str(folder / "out"), "--no-score", "--db", f"sqlite:///{folder / 'store.db'}"]


def _huge_field_kept(result: Result, folder: Path) -> None:
    assert "hits:" in result.output


def _vvol_with_config(folder: Path, toml: str) -> tuple:
    return vvol, ["score", "--crimes", "sample_data/vvol/crimes.csv", "--as-of", "2025-06-30", "--out",
                  str(folder / "v"), "--no-progress", "--config", str(_write(folder / "vvol.toml", toml))]


def _vvol_future_crime(folder: Path) -> tuple:
    crimes = pd.read_csv("sample_data/vvol/crimes.csv", dtype=str)
    crimes.loc[0, ["committed_from", "committed_to"]] = ["2099-06-01T10:00:00", "2099-06-01T11:00:00"]
    crimes.to_csv(folder / "crimes.csv", index=False)
    return vvol, ["score", "--crimes", str(folder / "crimes.csv"), "--as-of", "2025-06-30", "--out",
                  str(folder / "v"), "--no-progress"]


def _future_crime_quarantined(result: Result, folder: Path) -> None:
    quarantined = pd.read_csv(folder / "v" / "quarantine" / "crimes.csv", dtype=str)
    row = quarantined[quarantined["committed_from"] == "2099-06-01T10:00:00"]
    assert row["reason"].tolist() == ["committed_in_future"], quarantined


def _junk(size: int, seed: int = 0) -> bytes:
    """``size`` random bytes, the same in every run (a failure found with them can be run again)."""
    return random.Random(seed).randbytes(size)


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


CASES = [
    # -- control characters in text that reaches spreadsheets and terminals
    Case("NUL and controls in a crime reference and review note: audit XLSX",
         lambda w, f: _audit_with(f, "audit.xlsx", crime_ref=CONTROLS, note="-note\x1b[2J"), "result",
         check=_audit_xlsx_escapes_controls),
    Case("NUL and controls in a crime reference: audit CSV",
         lambda w, f: _audit_with(f, "audit.csv", crime_ref=CONTROLS), "result", check=_audit_csv_escapes_controls),
    Case("NUL and escape sequence in a V-VOL person id: tasking.xlsx and CSV",
         lambda w, f: _vvol_inputs(f, "P\x00\x1b]0;x\x07"), "result", check=_vvol_pack_escapes),
    Case("escape sequence (window title) in crime text: hits show",
         lambda w, f: _hits_show(f, free_text=f"door forced {ESC_TITLE}"), "result", check=_no_raw_escapes),
    Case("escape sequence (clipboard) in a review note: hits show",
         lambda w, f: _hits_show(f, note=f"seen {ESC_CLIPBOARD}"), "result", check=_no_raw_escapes),
    Case("escape sequence in a subject id and crime reference: hits list",
         lambda w, f: (geomatch, ["hits", "list", "--db", _db(f, subject=f"S{ESC_TITLE}",
                                                              crime_ref=f"CR{ESC_CLIPBOARD}")]),
         "result", check=_no_raw_escapes),
    Case("escape sequence in the hit id of an error message",
         lambda w, f: (geomatch, ["hits", "show", f"H{ESC_TITLE}", "--db", _db(f)]), "error",
         says="no hit 'H\\x1b]0;pwned\\x07'"),
    Case("escape sequence in a reviewer's name: review",
         lambda w, f: (geomatch, ["review", "H2", "--outcome", "arrest", "--by", f"DC{ESC_TITLE}", "--db", _db(f)]),
         "result", check=lambda r, f: _no_raw_escapes(r, f)),
    Case("unicode in every text column: store and audit", _unicode_store, "result", check=_unicode_audit),
    Case("a 2 MB free-text field in a crime", _huge_field, "result", check=_huge_field_kept),
    # -- files that are not what the option expects
    Case("binary junk given as --db", lambda w, f: (geomatch, ["hits", "list", "--db",
                                                                f"sqlite:///{_write(f / 'x.db', _junk(4096))}"]),
         "error", says="is not a geomatch review store"),
    Case("a CSV given as --db", lambda w, f: (geomatch, ["audit", "verify", "--db", f"sqlite:///{w / 'crimes.csv'}"]),
         "error", says="is not a geomatch review store"),
    Case("a trails file given as --hits (score)",
         lambda w, f: (geomatch, ["score", "--hits", str(w / "trails.parquet"), "--trails", str(w / "trails.parquet"),
                                  "--out", str(f / "s")]), "error", says="not a hits file"),
    Case("a trails file given as --hits (evidence)",
         lambda w, f: (geomatch, ["evidence", "--hits", str(w / "trails.parquet"), "--trails",
                                  str(w / "trails.parquet"), "--crimes", str(w / "crimes.csv"), "--out",
                                  str(f / "e")]), "error", says="not a hits file"),
    Case("a folder given as --hits (score)",
         lambda w, f: (geomatch, ["score", "--hits", str(f), "--trails", str(w / "trails.parquet")]), "error",
         says="not a file"),
    Case("a folder given as --hits (evidence)",
         lambda w, f: (geomatch, ["evidence", "--hits", str(f), "--trails", str(w / "trails.parquet"), "--crimes",
                                  str(w / "crimes.csv"), "--out", str(f / "e")]), "error", says="not a file"),
    Case("a CSV given as --hits", lambda w, f: (geomatch, ["score", "--hits", str(w / "crimes.csv"), "--trails",
                                                           str(w / "trails.parquet")]), "error",
         says="could not be read as Parquet"),
    Case("a truncated manifest.json given to verify", _truncate_manifest, "error", says="not valid JSON"),
    Case("a binary manifest.json given to verify", _binary_manifest, "error", says="manifest"),
    Case("a JSON manifest.json that is not a manifest", _manifest_not_a_manifest, "error", says="no list of outputs"),
    Case("a manifest listing a file outside its folder", _manifest_outside, "error", says="outside its folder"),
    Case("a run folder rescored in place still verifies (its quarantine files stay listed)", _rescored_in_place,
         "result", says="every file matches"),
    Case("a truncated manifest.json next to the hits given to score", _score_next_to_truncated_manifest, "error",
         says="not valid JSON"),
    Case("an extra file in a run folder that its manifest does not list", _extra_file, "broken",
         says="not listed: quarantine/planted.csv"),
    Case("an audit key file that is too short",
         lambda w, f: (geomatch, ["audit", "verify", "--db", _db(f), "--key-file",
                                  str(_write(f / "short.key", "secret"))]), "error", says="at least 16 bytes"),
    Case("an audit key file that does not exist",
         lambda w, f: (geomatch, ["review", "H1", "--outcome", "arrest", "--by", "DC 1", "--db", _db(f),
                                  "--key-file", str(f / "none.key")]), "error", says="cannot read the audit key"),
    # -- the store's records edited outside geomatch
    Case("an edited hit score (typed column)", _verify_after(lambda u: _sql(u, "UPDATE hits SET score = 99 WHERE "
                                                                                "hit_id = 'H2'")),
         "broken", says="hit H2: column 'score' says 99.0"),
    Case("an edited hit subject (typed column)",
         _verify_after(lambda u: _sql(u, "UPDATE hits SET subject_id = 'S-9' WHERE hit_id = 'H1'")), "broken",
         says="hit H1: column 'subject_id'"),
    Case("an edited hit distance and its recorded content",
         _verify_after(lambda u: _sql(u, "UPDATE hits SET min_distance_m = 1, detail = replace(detail, "
                                         "'\"min_distance_m\":12.5', '\"min_distance_m\":1.0') WHERE hit_id = 'H1'")),
         "broken", says="no longer matches its content hash"),
    Case("a deleted pending hit", _verify_after(lambda u: _sql(u, "DELETE FROM hits WHERE hit_id = 'H2'")), "broken",
         says="2 hits were sealed, 1 are stored"),
    Case("an edited first-received time (the audit's timeliness)",
         _verify_after(lambda u: _sql(u, "UPDATE hits SET first_received_at = '2026-10-21 09:00:00.000000' "
                                         "WHERE hit_id = 'H1'")), "broken", says="no longer match run 1's seal"),
    Case("a store written before seals verifies, saying what it cannot see",
         _verify_after(lambda u: _sql(u, "UPDATE runs SET manifest = NULL")), "result",
         check=lambda r, f: ("no run has sealed them" in r.output and "no audit key" in r.output) or
         pytest.fail(r.output)),
    Case("a review chain rewritten without the key (no key held by the verifier)",
         _verify_after(lambda u: _forge_chain(u, "forged"), key=None), "result",
         check=lambda r, f: "detects accidental edits, not a forger" in r.output or pytest.fail(r.output)),
    Case("a review chain rewritten without the key", _verify_after(lambda u: _forge_chain(u, "forged"), key=KEY,
                                                                   verify_key=KEY),
         "broken", says="not keyed"),
    Case("a hit edited with its hash and seal recomputed without the key",
         _verify_after(_forge_hit, key=KEY, verify_key=KEY), "broken", says="not keyed"),
    Case("a keyed store verified without the key", _verify_after(lambda u: None, key=KEY), "broken",
         says="no key was given"),
    Case("a keyed store verified with another key", _verify_after(lambda u: None, key=KEY, verify_key="z" * 40),
         "broken", says="not with the key given"),
    Case("a keyed store verified with its key", _verify_after(lambda u: None, key=KEY, verify_key=KEY), "result",
         check=lambda r, f: "keyed with audit key" in r.output or pytest.fail(r.output)),
    Case("a keyed store verified with the key from the environment", _verify_after(lambda u: None, key=KEY),
         "result", env={"GEOMATCH_AUDIT_KEY": KEY},
         check=lambda r, f: "keyed with audit key" in r.output or pytest.fail(r.output)),
    Case("an existing file given as the output folder (match)",
         lambda w, f: _match_with(w, f, "--out", str(_write(f / "afile", "x"))), "error", says="is a file"),
    Case("an existing file given as the output folder (vvol score)",
         lambda w, f: (vvol, ["score", "--crimes", "sample_data/vvol/crimes.csv", "--as-of", "2025-06-30", "--out",
                              str(_write(f / "afile", "x")), "--no-progress"]), "error", says="is a file"),
    Case("an output folder inside a file (partition)",
         lambda w, f: (geomatch, ["partition", "--trails", str(w / "trails.parquet"), "--out",
                                  str(_write(f / "afile", "x") / "inside")]), "error", says="afile"),
    Case("binary junk given as a score model",
         lambda w, f: _match_with(w, f, "--score-model", str(_write(f / "m.joblib", _junk(3000)))), "error",
         says="not a geomatch score model"),
    Case("a damaged score model (a pickle asking for a 1 TiB bytearray)",
         lambda w, f: _match_with(w, f, "--score-model",
                                  str(_write(f / "m.joblib", b"\x80\x05\x96" + (2 ** 40).to_bytes(8, "little")))),
         "error", says="the score model could not be read (MemoryError"),
    Case("binary junk given as a match config",
         lambda w, f: _match_with(w, f, "--config", str(_write(f / "m.toml", _junk(3000)))), "error",
         says="settings file could not be read"),
    Case("vvol --as-of in the year 9999",
         lambda w, f: (vvol, ["score", "--crimes", "sample_data/vvol/crimes.csv", "--as-of", "9999-12-31", "--out",
                              str(f / "v"), "--no-progress"]), "error", says="outside the years"),
    Case("vvol --as-of before 1980",
         lambda w, f: (vvol, ["score", "--crimes", "sample_data/vvol/crimes.csv", "--as-of", "1900-01-01", "--out",
                              str(f / "v"), "--no-progress"]), "error", says="outside the years"),
    Case("vvol simulate --crimes -5", lambda w, f: (vvol, ["simulate", "--crimes", "-5", "--out", str(f / "v")]),
         "error", says="--crimes"),
    Case("vvol simulate --as-of that is not a date",
         lambda w, f: (vvol, ["simulate", "--as-of", "soon", "--out", str(f / "v")]), "error", says="not a date"),
    # -- options and settings that make no sense
    Case("--radius-m -100", lambda w, f: _match_with(w, f, "--radius-m", "-100"), "error", says="radius"),
    Case("--radius-m nan", lambda w, f: _match_with(w, f, "--radius-m", "nan"), "error", says="finite"),
    Case("--radius-m inf", lambda w, f: _match_with(w, f, "--radius-m", "inf"), "error", says="finite"),
    Case("--pad-min -600", lambda w, f: _match_with(w, f, "--pad-min", "-600"), "error", says="pad"),
    Case("evidence --context-min nan",
         lambda w, f: (geomatch, ["evidence", "--hits", str(f / "h.parquet"), "--trails", str(w / "trails.parquet"),
                                  "--crimes", str(w / "crimes.csv"), "--out", str(f / "e"), "--context-min", "nan"]),
         "error", says="not a finite number"),
    Case("evidence --vicinity-m inf",
         lambda w, f: (geomatch, ["evidence", "--hits", str(f / "h.parquet"), "--trails", str(w / "trails.parquet"),
                                  "--crimes", str(w / "crimes.csv"), "--out", str(f / "e"), "--vicinity-m", "inf"]),
         "error", says="not a finite number"),
    Case("audit --review-days nan",
         lambda w, f: (geomatch, ["audit", "--month", "2026-10", "--out", str(f / "a.csv"), "--db", _db(f),
                                  "--review-days", "nan"]), "error", says="not a finite number"),
    Case("hits list --min-score nan", lambda w, f: (geomatch, ["hits", "list", "--db", _db(f), "--min-score", "nan"]),
         "error", says="not a finite number"),
    Case("geomatch simulate --start 9999-12-31",
         lambda w, f: (geomatch, ["simulate", str(f / "sim"), "--subjects", "1", "--days", "1", "--start",
                                  "9999-12-31"]), "error", says="outside the years 1971 to 2200"),
    Case("--trails-tz naming no time zone, for a file that needs none",
         lambda w, f: _match_with(w, f, "--trails-tz", "Mars/Olympus"), "error", says="is not a time zone"),
    Case("--trails-crs naming no CRS, for a file that needs none",
         lambda w, f: _match_with(w, f, "--trails-crs", "EPSG:99999999"), "error",
         says="is not a coordinate reference system"),
    Case("partition --trails-tz naming no time zone",
         lambda w, f: (geomatch, ["partition", "--trails", str(w / "trails.parquet"), "--out", str(f / "parts"),
                                  "--trails-tz", "Mars/Olympus"]), "error", says="is not a time zone"),
    Case("vvol config window_days = 'x'", lambda w, f: _vvol_with_config(f, "window_days = 'x'\n"), "error",
         says="window_days must be a whole number"),
    Case("vvol config xlsx_max_rows = -1", lambda w, f: _vvol_with_config(f, "xlsx_max_rows = -1\n"), "error",
         says="xlsx_max_rows must be a whole number of at least 1"),
    Case("vvol config hotspot_eps_m = nan", lambda w, f: _vvol_with_config(f, "hotspot_eps_m = nan\n"), "error",
         says="hotspot_eps_m must be a finite number above 0"),
    Case("a V-VOL crime dated in 2099", lambda w, f: _vvol_future_crime(f), "result",
         check=_future_crime_quarantined),
    Case("a negative radius in a TOML file",
         lambda w, f: _match_with(w, f, config="[offences.burglary_residential]\nradius_m = -5\n"), "error",
         says="radius"),
]


def _one_sentence(result: Result, says: str) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith(("error: ", "Error: ")), result.output
    assert says in lines[0], result.output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile(case: Case, world: Path, tmp_path: Path, monkeypatch) -> None:
    for name in ("GEOMATCH_AUDIT_KEY", "GEOMATCH_AUDIT_KEY_FILE", "GEOMATCH_DB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (case.env or {}).items():
        monkeypatch.setenv(name, value)
    group, args = case.make(world, tmp_path)
    result = CliRunner().invoke(group, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if case.expect == "error":
        _one_sentence(result, case.says)
    elif case.expect == "broken":
        assert result.exit_code == 1, result.output
        assert case.says in result.output, result.output
    else:
        assert result.exit_code == 0, result.output
        assert case.says in result.output
    if case.check is not None:
        case.check(result, tmp_path)


def test_log_lines_escape_control_characters_from_inputs():
    import logging

    from cli import _TerminalSafeFormatter

    record = logging.makeLogRecord({"name": "geomatch.ingest", "levelname": "WARNING", "levelno": logging.WARNING,
                                    "msg": "crime %s is far from every trail", "args": (f"CR{ESC_TITLE}",)})
    line = _TerminalSafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == "WARNING geomatch.ingest: crime CR\\x1b]0;pwned\\x07 is far from every trail"


def test_the_installed_command_gives_one_sentence_without_traceback(tmp_path):
    import subprocess
    import sys

    junk = _write(tmp_path / "x.db", _junk(4096))
    done = subprocess.run([sys.executable, "cli.py", "hits", "list", "--db", f"sqlite:///{junk}"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"error: sqlite:///{junk} is not a geomatch review store (file is "
                                                "not a database): give the database that geomatch match --db wrote."]
