"""The review store on SQLite and on a real PostgreSQL server: schema, recording runs, reviews, the hash chain."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

import cli
from geomatch.core.errors import InputError
from geomatch.store import (OUTCOMES, add_review, get_engine, get_hit, list_hits, record_run, resolve_db_url,
                            verify_chain)
from geomatch.store.schema import metadata
from geomatch.store.text import format_hit

UTC = timezone.utc


def crimes_frame(area: str = "North") -> pd.DataFrame:
    return pd.DataFrame({
        "crime_ref": ["C1", "C2", "C3"],
        "offence": ["robbery_personal", "burglary_residential", "theft_of_vehicle"],
        "x": [530000.0, 531000.0, 532000.0], "y": [180000.0, 181000.0, 182000.0],
        "committed_from": pd.to_datetime(["2026-10-24T23:00Z", "2026-10-02T08:00Z", "2026-10-03T20:00Z"], utc=True),
        "committed_to": pd.to_datetime(["2026-10-25T01:00Z", "2026-10-02T09:00Z", "2026-10-03T21:00Z"], utc=True),
        "area": [area, "South", pd.NA],
        "source_row": [2, 3, 4],
    })


def hits_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "hit_id": ["H01", "H02", "H03", "H04"],
        "subject_id": ["S1", "S2", "S1", "S3"],
        "crime_ref": ["C1", "C1", "C2", "C3"],
        "offence": ["robbery_personal", "robbery_personal", "burglary_residential", "theft_of_vehicle"],
        "presence": ["observed", "interpolated", "possible", "observed"],
        "min_distance_m": [12.5, 40.0, float("nan"), 3.0],
        "closest_time": pd.to_datetime(["2026-10-25T00:30Z", "2026-10-25T00:10Z", None, "2026-10-03T20:30Z"],
                                       utc=True),
        "n_fixes_in_zone": [4, 0, 0, 9],
        "score": [55.0, 80.0, None, 55.0],
        "reasons": ["inside zone", "path crosses zone", None, "inside zone"],
    })


def scalar(db_url: str, sql: str):
    with get_engine(db_url).connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def _head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from geomatch.store import engine

    config = Config()
    config.set_main_option("script_location", str(engine._MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def test_migrated_schema_matches_the_query_tables(db_url):
    with get_engine(db_url).connect() as conn:
        def on_this_backend(item, name, type_, reflected, compare_to) -> bool:  # e.g. PostgreSQL's queue index
            ddl_if = getattr(item, "_ddl_if", None)
            return ddl_if is None or ddl_if.dialect in (None, conn.dialect.name)

        context = MigrationContext.configure(conn, opts={"include_object": on_this_backend})
        assert compare_metadata(context, metadata) == []
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == _head_revision()


def test_recording_the_same_run_twice_never_duplicates_and_keeps_first_received(db_url):
    first = record_run(db_url, hits_frame(), crimes_frame(), {"tool": "geomatch match"})
    assert (first.hits_new, first.crimes_new) == (4, 3)
    received = get_hit(db_url, "H01").hit["first_received_at"]
    second = record_run(db_url, hits_frame(), crimes_frame(), None)
    assert (second.run_id, second.hits_new, second.hits_changed, second.hits_unchanged) == (first.run_id + 1, 0, 0, 4)
    assert (second.crimes_new, second.crimes_changed, second.crimes_unchanged) == (0, 0, 3)
    assert scalar(db_url, "SELECT count(*) FROM hits") == 4
    hit = get_hit(db_url, "H01").hit
    assert hit["first_received_at"] == received and hit["last_run_id"] == second.run_id
    stored = json.loads(scalar(db_url, "SELECT manifest FROM runs WHERE run_id = 1"))
    assert stored.pop("hit_seal")["n_hits"] == 4  # the run's seal of the stored hits (geomatch.store.seal)
    assert stored == {"tool": "geomatch match"}


def test_a_changed_hit_is_updated_in_place(db_url):
    record_run(db_url, hits_frame(), crimes_frame())
    changed = hits_frame()
    changed.loc[0, "score"] = 91.0
    summary = record_run(db_url, changed, crimes_frame())
    assert (summary.hits_new, summary.hits_changed, summary.hits_unchanged) == (0, 1, 3)
    record = get_hit(db_url, "H01")
    assert record.hit["score"] == 91.0 and record.measurements["score"] == 91.0
    assert record.hit["first_run_id"] == 1 and record.hit["last_run_id"] == 2


def test_a_resent_crime_with_changed_content_is_a_new_version_and_the_old_one_is_kept(db_url):
    record_run(db_url, hits_frame(), crimes_frame(area="North"))
    summary = record_run(db_url, hits_frame(), crimes_frame(area="North East"))
    assert (summary.crimes_new, summary.crimes_changed, summary.crimes_unchanged) == (0, 1, 2)
    assert scalar(db_url, "SELECT area FROM crimes WHERE crime_ref = 'C1'") == "North East"
    assert scalar(db_url, "SELECT version FROM crimes WHERE crime_ref = 'C1'") == 2
    with get_engine(db_url).connect() as conn:
        versions = conn.execute(sa.text(
            "SELECT version, content FROM crime_versions WHERE crime_ref = 'C1' ORDER BY version")).all()
    assert [(v, json.loads(c)["area"]) for v, c in versions] == [(1, "North"), (2, "North East")]
    assert "source_row" not in json.loads(versions[0][1])  # the input row number is not content
    assert get_hit(db_url, "H01").crime["area"] == "North East"


def test_bad_input_is_refused_and_nothing_is_written(db_url):
    hits = hits_frame()
    hits.loc[3, "crime_ref"] = "C9"
    with pytest.raises(InputError, match="C9"):
        record_run(db_url, hits, crimes_frame())
    assert scalar(db_url, "SELECT count(*) FROM runs") == 0  # one transaction: the crimes went too
    assert scalar(db_url, "SELECT count(*) FROM crimes") == 0
    with pytest.raises(InputError, match="subject_id"):
        record_run(db_url, hits_frame().drop(columns="subject_id"), crimes_frame())
    with pytest.raises(InputError, match="twice"):
        record_run(db_url, pd.concat([hits_frame(), hits_frame().head(1)]), crimes_frame())
    naive = hits_frame()
    naive["closest_time"] = naive["closest_time"].dt.tz_localize(None)
    with pytest.raises(InputError, match="time zone"):
        record_run(db_url, naive, crimes_frame())


def test_status_is_the_latest_event_and_the_list_filters_and_sorts(db_url):
    record_run(db_url, hits_frame(), crimes_frame())
    add_review(db_url, "H02", outcome="investigation", by="DC 101", note="")
    add_review(db_url, "H02", outcome="arrest", by="DC 101", note="arrested at home")
    add_review(db_url, "H04", outcome="no_further_action", by="PS 7", note="alibi")
    listed = list_hits(db_url)
    assert list(listed["hit_id"]) == ["H02", "H01", "H04", "H03"]  # score desc, ties by id, unscored last
    assert dict(zip(listed["hit_id"], listed["status"])) == {
        "H01": "pending", "H02": "arrest", "H03": "pending", "H04": "no_further_action"}
    assert list(list_hits(db_url, status="pending")["hit_id"]) == ["H01", "H03"]
    assert list(list_hits(db_url, status="arrest")["hit_id"]) == ["H02"]
    assert list(list_hits(db_url, status="investigation")["hit_id"]) == []  # superseded
    assert list(list_hits(db_url, subject="S1")["hit_id"]) == ["H01", "H03"]
    assert list(list_hits(db_url, offence="theft_of_vehicle")["hit_id"]) == ["H04"]
    assert list(list_hits(db_url, min_score=60)["hit_id"]) == ["H02"]
    today = datetime.now(UTC).date()
    assert len(list_hits(db_url, since=today - timedelta(days=1), until=today + timedelta(days=1))) == 4
    assert len(list_hits(db_url, until=today - timedelta(days=2))) == 0


def test_list_dates_are_uk_calendar_days(db_url):
    # 2026-07-01 23:30 UTC is 2 July 00:30 BST
    record_run(db_url, hits_frame(), crimes_frame(), received_at=datetime(2026, 7, 1, 23, 30, tzinfo=UTC))
    assert len(list_hits(db_url, since=date(2026, 7, 2), until=date(2026, 7, 2))) == 4
    assert len(list_hits(db_url, until=date(2026, 7, 1))) == 0


def test_reviews_of_unknown_hits_or_outcomes_are_refused(db_url):
    record_run(db_url, hits_frame(), crimes_frame())
    with pytest.raises(InputError, match="no hit 'H99'"):
        add_review(db_url, "H99", outcome="arrest", by="x")
    with pytest.raises(InputError, match="not one of"):
        add_review(db_url, "H01", outcome="shrug", by="x")
    with pytest.raises(InputError, match="who"):
        add_review(db_url, "H01", outcome="arrest", by="  ")
    add_review(db_url, "H01", outcome="arrest", by="x", at=datetime(2026, 10, 5, tzinfo=UTC))
    with pytest.raises(InputError, match="time order"):
        add_review(db_url, "H01", outcome="charge", by="x", at=datetime(2026, 10, 4, tzinfo=UTC))
    assert verify_chain(db_url).n_events == 1


def test_event_hash_is_sha256_of_the_documented_canonical_form(db_url):
    record_run(db_url, hits_frame(), crimes_frame())
    at = datetime(2026, 10, 25, 1, 30, 0, 250000, tzinfo=UTC)
    event = add_review(db_url, "H01", outcome="recall", by="PC Ó Briain", note="licence breach; \"=1+1\"", at=at)
    canonical = ('{"at":"2026-10-25T01:30:00.250000Z","by":"PC Ó Briain","hit_id":"H01",'
                 '"note":"licence breach; \\"=1+1\\"","outcome":"recall","prev_hash":"' + "0" * 64 + '","seq":1}')
    assert event.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    second = add_review(db_url, "H01", outcome="charge", by="x", note="")
    assert scalar(db_url, f"SELECT prev_hash FROM review_events WHERE seq = {second.seq}") == event.hash


def _drop_append_only_triggers(conn, dialect: str) -> None:
    for action in ("update", "delete"):
        on = " ON review_events" if dialect == "postgresql" else ""
        conn.execute(sa.text(f"DROP TRIGGER review_events_no_{action}{on}"))


TAMPERING = {
    "edit a note": ("UPDATE review_events SET note = 'nothing found' WHERE seq = 3", 3, "contents"),
    "change an outcome": ("UPDATE review_events SET outcome = 'no_further_action' WHERE seq = 2", 2, "contents"),
    "delete an event": ("DELETE FROM review_events WHERE seq = 3", 4, "event 3 is missing"),
    "delete the newest event": ("DELETE FROM review_events WHERE seq = 5", 5, "were deleted"),
    "delete the first event": ("DELETE FROM review_events WHERE seq = 1", 2, "event 1 is missing"),
}


@pytest.mark.parametrize("tampering", TAMPERING)
def test_verify_names_the_first_broken_event_after_tampering(db_url, tampering):
    sql, broken, problem = TAMPERING[tampering]
    record_run(db_url, hits_frame(), crimes_frame())
    for i, outcome in enumerate(["investigation", "arrest", "charge", "caution", "recall"]):
        add_review(db_url, f"H0{i % 4 + 1}", outcome=outcome, by="DC 101", note=f"step {i + 1}")
    assert verify_chain(db_url).ok
    engine = get_engine(db_url)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):  # the tool's own guard comes first
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    with engine.begin() as conn:  # someone with direct database access removes the guard
        _drop_append_only_triggers(conn, engine.dialect.name)
        conn.execute(sa.text(sql))
    report = verify_chain(db_url)
    assert not report.ok and report.broken_seq == broken and problem in report.problem
    result = CliRunner().invoke(cli.geomatch, ["audit", "verify", "--db", db_url])
    assert result.exit_code == 1 and f"BROKEN at event {broken}" in result.output


def test_hit_show_gives_uk_local_times_with_offset(db_url):
    record_run(db_url, hits_frame(), crimes_frame())
    add_review(db_url, "H01", outcome="intelligence_submitted", by="DC 101", note="sent to intel",
               at=datetime(2026, 10, 26, 9, 0, tzinfo=UTC))
    text = format_hit(get_hit(db_url, "H01"))
    assert "closest_time     2026-10-25 01:30:00 +01:00 (BST)" in text  # before the clocks went back
    assert "#1  2026-10-26 09:00:00 +00:00 (GMT)  intelligence_submitted  by DC 101" in text
    assert "status: intelligence_submitted" in text and "sent to intel" in text


def test_cli_review_list_show_and_verify(db_url):
    record_run(db_url, hits_frame(), crimes_frame())
    runner = CliRunner()
    result = runner.invoke(cli.geomatch, ["review", "H03", "--outcome", "already_known", "--by", "PS 7",
                                          "--note", "known to IOM", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "event 1: hit H03 already_known by PS 7" in result.output
    result = runner.invoke(cli.geomatch, ["hits", "list", "--status", "pending", "--db", db_url])
    assert result.exit_code == 0 and "H03" not in result.output and "3 hits" in result.output
    result = runner.invoke(cli.geomatch, ["hits", "show", "H03", "--db", db_url])
    assert result.exit_code == 0 and "known to IOM" in result.output
    result = runner.invoke(cli.geomatch, ["review", "H77", "--outcome", "arrest", "--by", "x", "--db", db_url])
    assert result.exit_code == 2 and "no hit 'H77'" in result.output
    for args in (["audit", "verify", "--db", db_url], ["audit", "--db", db_url, "verify"]):
        result = runner.invoke(cli.geomatch, args)
        assert result.exit_code == 0 and "review chain intact: 1 event," in result.output
        assert "hit rows intact: 4 hits" in result.output


def test_db_url_comes_from_the_environment_then_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("GEOMATCH_DB", raising=False)
    assert resolve_db_url(None) == "sqlite:///geomatch.db"
    monkeypatch.setenv("GEOMATCH_DB", f"sqlite:///{tmp_path}/env.db")
    assert resolve_db_url(None) == f"sqlite:///{tmp_path}/env.db"
    assert resolve_db_url("sqlite:///other.db") == "sqlite:///other.db"
    for command in (["hits", "list"], ["hits", "show", "H01"], ["access-log"], ["audit", "verify"]):
        result = CliRunner().invoke(cli.geomatch, command)  # commands that only read never create a store
        assert result.exit_code == 2 and "there is no review store at sqlite:///" in result.output
        assert not (tmp_path / "env.db").exists()
    get_engine(None)  # a writer creates it
    result = CliRunner().invoke(cli.geomatch, ["hits", "list"])
    assert result.exit_code == 0 and "no hits match" in result.output and (tmp_path / "env.db").exists()


def test_unusable_database_urls_are_one_sentence(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        get_engine(f"sqlite:///{tmp_path}/missing/x.db")
    with pytest.raises(InputError, match="not supported"):
        get_engine("mysql://localhost/x")


def test_cli_outcome_choices_are_the_store_outcomes():
    review_outcome = next(p for p in cli.review.params if p.name == "outcome")
    list_status = next(p for p in cli.hits_list.params if p.name == "status")
    assert tuple(review_outcome.type.choices) == OUTCOMES
    assert tuple(list_status.type.choices) == ("pending", *OUTCOMES)


def test_geomatch_match_with_db_records_the_run_once(tmp_path):
    seconds = np.arange(0, 3600, 30)
    pd.DataFrame({"subject_id": "S-1", "x": 612_500 + 1.2 * seconds, "y": 240_500.0,
                  "timestamp": (pd.Timestamp("2026-10-20T08:00Z") + pd.to_timedelta(seconds, unit="s"))
                  .strftime("%Y-%m-%dT%H:%M:%SZ")}).to_csv(tmp_path / "trails.csv", index=False)
    pd.DataFrame({"crime_ref": ["CR/1", "CR/2"], "offence": ["burglary_residential", "robbery_personal"],
                  "easting": [613_220, 616_000], "northing": [240_510, 240_500],  # on the path at 08:10; far off
                  "committed_from": ["2026-10-20 09:05:00"] * 2, "committed_to": ["2026-10-20 09:15:00"] * 2,
                  }).to_csv(tmp_path / "crimes.csv", index=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    args = ["match", "--trails", str(tmp_path / "trails.csv"), "--crimes", str(tmp_path / "crimes.csv"),
            "--trails-crs", "EPSG:27700", "--db", url]
    result = CliRunner().invoke(cli.geomatch, [*args, "--out", str(tmp_path / "out1")])
    assert result.exit_code == 0, result.output
    assert "store: run 1 recorded" in result.output and "hits 1 new" in result.output
    matched = pd.read_parquet(tmp_path / "out1" / "hits.parquet")
    assert list(list_hits(url)["hit_id"]) == list(matched["hit_id"])
    result = CliRunner().invoke(cli.geomatch, [*args, "--out", str(tmp_path / "out2")])
    assert "hits 0 new, 0 changed, 1 unchanged" in result.output
    assert scalar(url, "SELECT count(*) FROM crimes") == 2 and scalar(url, "SELECT count(*) FROM hits") == 1


def test_a_database_from_a_newer_geomatch_is_refused_in_one_sentence(tmp_path):
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0099')"))
    result = CliRunner().invoke(cli.geomatch, ["hits", "list", "--db", url])
    assert result.exit_code == 2 and "schema this geomatch cannot use" in result.output
