"""The audit key (HMAC) over the review chain, and the hit seals that bring hit rows under it, on both backends."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from geomatch.core.errors import InputError
from geomatch.store import add_review, get_engine, record_run, verify_chain
from geomatch.store.chain import event_hash
from geomatch.store.keys import AuditKey, check_digest, digest, load_key_file, using_key
from geomatch.store.seal import verify_hits

UTC = timezone.utc
KEY, OTHER = AuditKey(b"k" * 32), AuditKey(b"o" * 32)


def _record(db_url: str, scores: list[float], received: str = "2026-10-20T10:00Z") -> None:
    ids = [f"H{i}" for i in range(len(scores))]
    crimes = pd.DataFrame({"crime_ref": [f"C{i}" for i in range(len(scores))], "offence": "burglary_residential"})
    hits = pd.DataFrame({"hit_id": ids, "subject_id": "S1", "crime_ref": crimes["crime_ref"],
                         "offence": "burglary_residential", "score": scores})
    record_run(db_url, hits, crimes, received_at=pd.Timestamp(received).to_pydatetime())


def _review(db_url: str, hit_id: str, day: int) -> None:
    add_review(db_url, hit_id, outcome="arrest", by="DC 1", at=datetime(2026, 10, day, 9, tzinfo=UTC))


def test_plain_event_hash_is_unchanged_for_old_stores():
    at = datetime(2026, 10, 21, 8, 30, tzinfo=UTC)
    canonical = json.dumps({"seq": 1, "hit_id": "H1", "at": "2026-10-21T08:30:00.000000Z", "by": "DC 1",
                            "outcome": "arrest", "note": "", "prev_hash": "0" * 64},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event_hash(seq=1, hit_id="H1", at=at, by="DC 1", outcome="arrest", note="",
                      prev_hash="0" * 64) == hashlib.sha256(canonical.encode()).hexdigest()


def test_keyed_digests_fit_the_columns_and_name_their_key():
    keyed = digest(b"data", KEY)
    assert len(keyed) == 64 and keyed.startswith("k" + KEY.key_id) and keyed != digest(b"data", OTHER)
    assert check_digest(keyed, b"data", KEY) is None and check_digest(keyed, b"date", KEY) == "changed"
    assert "no key was given" in check_digest(keyed, b"data", None)
    assert "not with the key given" in check_digest(keyed, b"data", OTHER)
    assert "KEY" not in repr(KEY) and "kkkk" not in repr(KEY)  # the secret is never shown


def test_key_files_and_short_keys_are_refused(tmp_path):
    (tmp_path / "k").write_text("x" * 40 + "\n")
    assert load_key_file(tmp_path / "k").secret == b"x" * 40
    (tmp_path / "short").write_text("abc")
    with pytest.raises(InputError, match="at least 16 bytes"):
        load_key_file(tmp_path / "short")


def test_a_chain_keyed_from_some_event_on_verifies_with_its_key_only(db_url):
    _record(db_url, [70.0, 40.0])
    _review(db_url, "H0", 21)  # before the key: plain
    with using_key(KEY):
        _review(db_url, "H1", 22)
        _review(db_url, "H0", 23)
        report = verify_chain(db_url)
        assert report.ok and report.n_keyed == 2 and report.key_id == KEY.key_id
        hits = verify_hits(db_url)  # sealed without the key, before it was in force: not proof against forgers
        assert not hits.ok and "not keyed although a key was given" in hits.problems[0]
        _record(db_url, [70.0, 40.0], received="2026-10-24T10:00Z")  # the next run seals them with the key
        assert verify_hits(db_url).ok
    with using_key(None):
        report = verify_chain(db_url)
    assert not report.ok and report.broken_seq == 2 and "no key was given" in report.problem
    with using_key(OTHER):
        assert "not with the key given" in verify_chain(db_url).problem
    with using_key(None):
        _review(db_url, "H1", 24)  # written without the key after keyed events
    with using_key(KEY):
        report = verify_chain(db_url)
    assert not report.ok and report.broken_seq == 4 and "not keyed although earlier events are" in report.problem


def test_every_run_seals_the_hits_and_verify_follows_them(db_url):
    with using_key(KEY):
        _record(db_url, [70.0, 40.0])
        _record(db_url, [71.0, 40.0, 12.0], received="2026-10-21T10:00Z")  # H0 changed, H2 new
        report = verify_hits(db_url)
    assert report.ok and report.n_hits == 3 and report.sealed_run == 2 and report.keyed
    with get_engine(db_url).begin() as conn:
        conn.execute(sa.text("UPDATE hits SET reasons = 'close' WHERE hit_id = 'H2'"))
    with using_key(KEY):
        report = verify_hits(db_url)
    assert not report.ok and report.n_bad_rows == 1
    assert report.problems == ("hit H2: column 'reasons' says 'close' but the hit as recorded says None",)
