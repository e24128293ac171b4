"""The review web application as offender managers use it: the queue, a hit, recording outcomes, assignment,
the audit download, the access log and the API (TestClient; on SQLite and PostgreSQL)."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from openpyxl import load_workbook

from geomatch.store import get_engine, get_hit, verify_chain
from geomatch.store.access import list_access
from geomatch.store.chain import ACCESS_CHAIN
from geomatch.store.schema import hits as hits_table
from tests.geomatch.web.conftest import bearer, csrf_of, login


def hit_ids(html: str) -> list[str]:
    import re

    return re.findall(r'<a href="/hits/(H\d+)">', html)


def test_healthz_needs_no_login_and_openapi_describes_the_api(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    assert {"/api/hits", "/api/hits/{hit_id}", "/api/hits/{hit_id}/reviews", "/api/access-log"} <= set(spec["paths"])
    assert "/login" not in spec["paths"]


def test_each_reviewer_sees_their_own_hits_highest_score_first(client):
    assert login(client, "rita").status_code == 200
    page = client.get("/")
    assert hit_ids(page.text) == ["H01", "H04", "H03"]  # S1 and S3 are rita's; by score 90, 70, 20
    client.cookies.clear()
    login(client, "rob")
    assert hit_ids(client.get("/").text) == ["H02"]


def test_supervisor_sees_the_team_auditor_sees_all(client):
    login(client, "sue")
    assert hit_ids(client.get("/").text) == ["H01", "H04", "H03"]  # team north: S1 and S3
    client.cookies.clear()
    login(client, "ava")
    assert hit_ids(client.get("/").text) == ["H01", "H02", "H04", "H05", "H03"]


def test_queue_filters(client, tokens):
    login(client, "ava")
    assert hit_ids(client.get("/?offence=burglary_residential").text) == ["H01", "H05"]
    assert hit_ids(client.get("/?subject=S1").text) == ["H01", "H03"]
    assert hit_ids(client.get("/?min_score=75").text) == ["H01", "H02"]
    assert hit_ids(client.get("/?status=arrest").text) == []
    today = datetime.now(timezone.utc).date()
    assert len(hit_ids(client.get(f"/?since={today - timedelta(days=1)}&until={today + timedelta(days=1)}").text)) == 5
    assert hit_ids(client.get(f"/?since={today + timedelta(days=1)}").text) == []
    partial = client.get("/?subject=S2", headers={"HX-Request": "true"})  # htmx swaps the table only
    assert hit_ids(partial.text) == ["H02"] and "<html" not in partial.text
    assert client.get("/?min_score=200").status_code == 400
    assert client.get("/?status=shrug").status_code == 400
    assert client.get("/?since=yesterday").status_code == 400


def test_overdue_hits_stand_out_and_filter(client, db_url):
    with get_engine(db_url).begin() as conn:  # H04 arrived five days ago
        conn.execute(hits_table.update().where(hits_table.c.hit_id == "H04")
                     .values(first_received_at=datetime.now(timezone.utc) - timedelta(days=5)))
    login(client, "rita")
    page = client.get("/")
    row = page.text.split('href="/hits/H04"')[1].split("</tr>")[0]
    assert "overdue" in row and "overdue" not in page.text.split('href="/hits/H01"')[1].split("</tr>")[0]
    assert hit_ids(client.get("/?overdue=1").text) == ["H04"]


def test_queue_pages(settings, tokens):
    from fastapi.testclient import TestClient

    from geomatch.web import WebSettings, create_app

    small = TestClient(create_app(WebSettings(**{**settings.__dict__, "page_size": 2})), base_url="http://127.0.0.1")
    login(small, "ava")
    first = small.get("/")
    assert hit_ids(first.text) == ["H01", "H02"] and "page=2" in first.text
    assert hit_ids(small.get("/?page=2").text) == ["H04", "H05"]
    last = small.get("/?page=3")
    assert hit_ids(last.text) == ["H03"] and "page=4" not in last.text


def test_hit_page_shows_facts_reasons_evidence_and_records_an_outcome(client, db_url):
    login(client, "rita")
    page = client.get("/hits/H01")
    assert page.status_code == 200
    text = page.text
    assert "a fix 12 m from the scene during the window" in text and "2 h window" in text  # reasons, one per item
    assert "2026-10-25 01:30:00 +01:00 (BST)" in text  # closest time in UK local time with the offset
    assert 'src="/hits/H01/files/map.html"' in text and 'sandbox="allow-scripts"' in text
    for name in ("statement.pdf", "statement.docx", "points.csv"):
        assert f"/hits/H01/files/{name}" in text
    assert "/hits/H01/pack.zip" in text and "rear door forced" in text  # the crime record
    result = client.post("/hits/H01/review", data={"outcome": "arrest", "note": "arrested 26 Oct",
                                                   "csrf_token": csrf_of(text)}, follow_redirects=False)
    assert result.status_code == 303 and result.headers["location"].startswith("/hits/H01?recorded=1")
    after = client.get(result.headers["location"])
    assert "Recorded: Arrest by rita" in after.text and "arrested 26 Oct" in after.text
    record = get_hit(db_url, "H01")
    assert record.status == "arrest" and record.events[0].by == "rita"
    assert hit_ids(client.get("/").text) == ["H04", "H03"]  # no longer pending
    assert hit_ids(client.get("/?status=arrest").text) == ["H01"]


def test_the_reviewer_is_the_logged_in_user_never_the_client(client, db_url):
    login(client, "rita")
    csrf = csrf_of(client.get("/hits/H01").text)
    client.post("/hits/H01/review", data={"outcome": "recall", "by": "someone else", "csrf_token": csrf})
    assert get_hit(db_url, "H01").events[-1].by == "rita"


def test_evidence_files_and_pack_zip(client):
    login(client, "rita")
    map_page = client.get("/hits/H01/files/map.html")
    assert map_page.status_code == 200 and "map of H01" in map_page.text
    assert "script-src 'unsafe-inline'" in map_page.headers["content-security-policy"]
    pdf = client.get("/hits/H01/files/statement.pdf")
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(client.get("/hits/H01/pack.zip").content))
    assert sorted(archive.namelist()) == sorted(f"H01/{n}" for n in ("map.html", "statement.pdf", "statement.docx",
                                                                     "points.csv", "timeline.png"))
    page = client.get("/hits/H03")  # no pack for H03
    assert "No evidence pack for this hit" in page.text
    assert client.get("/hits/H03/pack.zip").status_code == 404


def test_supervisor_reassigns_within_the_team(client, db_url, tokens):
    from geomatch.store.accounts import add_user

    add_user(db_url, "nina", role="reviewer", password="another long password", team="north")
    login(client, "sue")
    page = client.get("/hits/H01")
    assert 'action="/hits/H01/assign"' in page.text
    result = client.post("/hits/H01/assign", data={"assignee": "nina", "csrf_token": csrf_of(page.text)})
    assert result.status_code == 200 and "nina" in result.text
    assert "rob" not in client.get("/hits/H01").text.split('id="assignee"')[1].split("</select>")[0]  # south
    bad = client.post("/hits/H01/assign", data={"assignee": "rob", "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 400
    nina = bearer({"nina": __import__("geomatch.store.accounts", fromlist=["x"]).new_token(db_url, "nina")}, "nina")
    assert [h["hit_id"] for h in client.get("/api/hits", headers=nina).json()["hits"]] == ["H01"]
    assert [h["hit_id"] for h in client.get("/api/hits", headers=bearer(tokens, "rita")).json()["hits"]] == ["H04",
                                                                                                          "H03"]


def test_audit_download_for_supervisors_and_auditors(client):
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    login(client, "ava")
    xlsx = client.get(f"/audit?month={month}&format=xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert sheet.max_row >= 6
    csv = client.get(f"/audit?month={month}&format=csv")
    assert csv.status_code == 200 and "Hit ID" in csv.text and "H01" in csv.text


def test_api_lists_shows_and_records_reviews(client, tokens, db_url):
    rita = bearer(tokens, "rita")
    listed = client.get("/api/hits?status=pending&limit=2", headers=rita).json()
    assert [h["hit_id"] for h in listed["hits"]] == ["H01", "H04"] and listed["has_more"] is True
    assert listed["hits"][0]["closest_time"] == "2026-10-25T00:30:00Z"
    shown = client.get("/api/hits/H01", headers=rita).json()
    assert shown["status"] == "pending" and shown["assignee"] == "rita" and shown["crime"]["crime_ref"] == "CR/1"
    made = client.post("/api/hits/H01/reviews", json={"outcome": "investigation", "note": "n"}, headers=rita)
    assert made.status_code == 201 and made.json()["by"] == "rita" and made.json()["seq"] == 1
    assert client.get("/api/hits/H01", headers=rita).json()["events"][0]["outcome"] == "investigation"
    assert client.post("/api/hits/H99/reviews", json={"outcome": "arrest"}, headers=rita).status_code == 404
    assert client.post("/api/hits/H01/reviews", json={"outcome": "shrug"}, headers=rita).status_code == 422
    assert client.post("/api/hits/H01/reviews", json={"outcome": "arrest"},
                       headers=bearer(tokens, "ava")).status_code == 403  # auditors never review
    assert client.post("/api/hits/H02/reviews", json={"outcome": "arrest"},
                       headers=rita).status_code == 403  # not hers
    assert verify_chain(db_url).ok


def test_every_consultation_disclosure_alteration_and_login_is_logged_and_chained(client, db_url, tokens):
    login(client, "rita", "wrong password!!")
    login(client, "rita")
    client.get("/")
    page = client.get("/hits/H01")
    client.get("/hits/H01/files/map.html")
    client.get("/hits/H01/files/statement.pdf")
    client.post("/hits/H01/review", data={"outcome": "arrest", "csrf_token": csrf_of(page.text)},
                follow_redirects=False)
    log = list_access(db_url, user="rita")
    actions = list(reversed(log["action"].tolist()))
    assert actions[-8:] == ["login_failed", "login", "view_queue",  # the login's redirect to the queue
                            "view_queue", "view_hit", "view_file", "download", "review"]
    newest = log.iloc[0]
    assert newest["target"] == "H01" and newest["client"] == "testclient" and newest["kind"] == "alteration"
    assert newest["at"].tzinfo is not None
    report = verify_chain(db_url, ACCESS_CHAIN)
    assert report.ok and report.n_events == len(list_access(db_url))
    api = client.get("/api/access-log?user=rita", headers=bearer(tokens, "ava")).json()["entries"]
    assert [e["action"] for e in api][:3] == ["review", "download", "view_file"]  # newest first
    assert client.get("/api/access-log", headers=bearer(tokens, "rita")).status_code == 403


def test_access_log_is_append_only(db_url, tokens):
    import pytest

    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with get_engine(db_url).begin() as conn:
            conn.execute(sa.text("UPDATE access_log SET username = 'nobody' WHERE seq = 1"))
