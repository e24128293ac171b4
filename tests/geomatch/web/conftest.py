"""A small review store with an account of every role, subjects assigned to teams, and evidence packs on disk."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from geomatch.store import record_run
from geomatch.store.accounts import add_user, new_token
from geomatch.store.assignment import load_subjects
from geomatch.web import WebSettings, create_app
from tests.pgserver import store_url, why_no_postgres

PASSWORD = "correct horse battery"
EVIL = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
#: user name -> (role, team)
ACCOUNTS = {"rita": ("reviewer", "north"), "rob": ("reviewer", "south"), "sue": ("supervisor", "north"),
            "ava": ("auditor", None), "adam": ("admin", None)}


def crimes() -> pd.DataFrame:
    return pd.DataFrame({
        "crime_ref": ["CR/1", "CR/2", "CR/3", EVIL],
        "offence": ["burglary_residential", "robbery_personal", "theft_of_vehicle", "burglary_business"],
        "x": [530000.0, 531000.0, 532000.0, 533000.0], "y": [180000.0, 181000.0, 182000.0, 183000.0],
        "committed_from": pd.to_datetime(["2026-10-24T23:00Z", "2026-10-02T08:00Z", "2026-10-03T20:00Z",
                                          "2026-10-05T20:00Z"], utc=True),
        "committed_to": pd.to_datetime(["2026-10-25T01:00Z", "2026-10-02T09:00Z", "2026-10-03T21:00Z",
                                        "2026-10-05T21:00Z"], utc=True),
        "free_text": ["rear door forced", EVIL, "keys taken", "x"],
    })


def hits() -> pd.DataFrame:
    return pd.DataFrame({
        "hit_id": ["H01", "H02", "H03", "H04", "H05"],
        "subject_id": ["S1", "S2", "S1", "S3", "S9"],
        "crime_ref": ["CR/1", "CR/2", "CR/3", EVIL, "CR/1"],
        "offence": ["burglary_residential", "robbery_personal", "theft_of_vehicle", "burglary_business",
                    "burglary_residential"],
        "presence": ["observed", "interpolated", "possible", "observed", "observed"],
        "min_distance_m": [12.5, 40.0, 300.0, 3.0, 8.0],
        "closest_time": pd.to_datetime(["2026-10-25T00:30Z", "2026-10-02T08:10Z", None, "2026-10-05T20:30Z",
                                        "2026-10-25T00:40Z"], utc=True),
        "score": [90.0, 80.0, 20.0, 70.0, 60.0],
        "reasons": ["a fix 12 m from the scene during the window; 2 h window", "path crosses the zone",
                    None, EVIL, "a fix 8 m from the scene"],
    })


def subjects() -> pd.DataFrame:
    """S1 -> rita (north), S2 -> rob (south), S3 -> rita (north); S9 has no offender manager."""
    return pd.DataFrame({"subject_id": ["S1", "S2", "S3"], "offender_manager": ["rita", "rob", "rita"],
                         "team": ["north", "south", "north"]})


def make_store(url: str) -> dict[str, str]:
    """Record the hits, add the accounts and subjects; returns each user's API token."""
    record_run(url, hits(), crimes())
    tokens = {}
    for name, (role, team) in ACCOUNTS.items():
        add_user(url, name, role=role, password=PASSWORD, team=team)
        tokens[name] = new_token(url, name)
    load_subjects(url, subjects())
    return tokens


def make_packs(folder: Path) -> Path:
    """Evidence folders for H01 and H04 with every pack file (small stand-ins; the browser test uses real ones)."""
    for hit_id in ("H01", "H04"):
        pack = folder / hit_id
        pack.mkdir(parents=True)
        (pack / "map.html").write_text("<!doctype html><title>map</title><p id=m>map of " + hit_id)
        (pack / "statement.pdf").write_bytes(b"%PDF-1.4 stand-in")
        (pack / "statement.docx").write_bytes(b"PK stand-in")
        (pack / "points.csv").write_text("sequence,time_uk,in_zone\n1,2026-10-25 01:30:00 +01:00 (BST),True\n")
        (pack / "timeline.png").write_bytes(b"\x89PNG stand-in")
    (folder / "secret.txt").write_text("not a pack file")
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "postgresql" and why_no_postgres():
        pytest.skip(why_no_postgres())
    return store_url(request.param, tmp_path)


@pytest.fixture
def tokens(db_url) -> dict[str, str]:
    return make_store(db_url)


@pytest.fixture
def settings(db_url, tokens, tmp_path) -> WebSettings:
    return WebSettings(db_url=db_url, evidence_dir=make_packs(tmp_path / "evidence"), login_delay_s=0.001)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD):
    """Log ``name`` in through the login form; returns the response after redirects."""
    page = client.get("/login")
    return client.post("/login", data={"username": name, "password": password, "next": "/",
                                       "csrf_token": csrf_of(page.text)})


def bearer(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """argon2id with its smallest cost: the tests check the logic, not the cost (the server keeps the defaults)."""
    from argon2 import PasswordHasher

    from geomatch.store import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("a password nobody has"))
