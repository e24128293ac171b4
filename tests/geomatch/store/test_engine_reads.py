"""Reading a store: one read transaction for a block of reads (``shared_reads``), and the statements PostgreSQL keeps
prepared (``prepared``)."""
from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from geomatch.store import add_review, get_hit, record_run
from geomatch.store.access import Access, log_access
from geomatch.store.accounts import add_user, create_session, session_user
from geomatch.store.engine import get_engine, read_connection, shared_reads

HITS = pd.DataFrame({"hit_id": ["H1", "H2"], "subject_id": ["S1", "S2"], "crime_ref": ["C1", "C1"],
                     "offence": ["burglary_residential"] * 2, "score": [70.0, 40.0]})
CRIMES = pd.DataFrame({"crime_ref": ["C1"], "offence": ["burglary_residential"]})


@pytest.fixture
def store(db_url):
    record_run(db_url, HITS, CRIMES)
    add_user(db_url, "om1", role="reviewer", password="a long enough password")
    return db_url


def _begins(db_url: str, work) -> int:
    """Transactions the engine begins while ``work()`` runs."""
    engine, begun = get_engine(db_url), []
    listener = lambda conn: begun.append(conn)  # noqa: E731
    sa.event.listen(engine, "begin", listener)
    try:
        work()
    finally:
        sa.event.remove(engine, "begin", listener)
    return len(begun)


def _page_reads(db_url: str, session_id: str) -> tuple:
    return session_user(db_url, session_id), get_hit(db_url, "H1")


def test_reads_in_a_shared_block_are_one_transaction_and_read_the_same(store):
    session_id = create_session(store, "om1")
    alone = _page_reads(store, session_id)

    def shared():
        with shared_reads():
            assert _page_reads(store, session_id) == alone

    assert _begins(store, lambda: _page_reads(store, session_id)) == 2
    assert _begins(store, shared) == 1


def test_a_shared_block_reads_one_snapshot_and_sees_writes_only_after_it_ends(store):
    with shared_reads():
        assert get_hit(store, "H1").events == []
        add_review(store, "H1", outcome="no_further_action", by="om1")  # its own write transaction, committed
        assert get_hit(store, "H1").events == []  # the block's snapshot
    assert [e.outcome for e in get_hit(store, "H1").events] == ["no_further_action"]


def test_a_shared_block_that_raises_ends_its_transaction_and_returns_the_connection(store):
    engine = get_engine(store)
    checked_out = engine.pool.checkedout()
    with pytest.raises(RuntimeError), shared_reads():
        get_hit(store, "H1")
        assert engine.pool.checkedout() == checked_out + 1
        raise RuntimeError("the page failed")
    assert engine.pool.checkedout() == checked_out
    with read_connection(engine) as conn:  # the pool's connections still work
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_threads_in_shared_blocks_read_on_their_own_connections(store):
    barrier, seen, errors = threading.Barrier(3), [], []

    def reader() -> None:
        try:
            with shared_reads():
                with read_connection(get_engine(store)) as conn:
                    barrier.wait(timeout=30)  # all three blocks open at once
                    seen.append(id(conn))
                    assert get_hit(store, "H2").hit["subject_id"] == "S2"
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(seen)) == 3


def _server_prepared(conn) -> list[str]:
    return [s for (s,) in conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")]


def test_postgresql_keeps_only_the_marked_statements_prepared(store):
    if not store.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    engine = get_engine(store)
    engine.dispose()  # fresh connections: nothing prepared yet
    session_id = create_session(store, "om1")
    for _ in range(3):
        with shared_reads():
            _page_reads(store, session_id)
        log_access(store, Access("om1", "view_hit", "H1", "127.0.0.1"))
    with engine.connect() as conn:  # the pool has one connection: the one the pages used
        prepared = _server_prepared(conn)
        assert conn.connection.dbapi_connection.prepare_threshold is None  # the pool's ping prepares nothing
    assert engine.pool.size() >= 1
    assert any("FROM users JOIN sessions" in s for s in prepared)
    assert any("INSERT INTO access_log" in s for s in prepared)
    assert any("pg_advisory_xact_lock" in s for s in prepared)
    assert not any("DELETE FROM sessions" in s for s in prepared)  # create_session's statements: not marked
    assert not any(s.strip() in ("", ";") for s in prepared)
    assert len(prepared) == len(set(prepared))  # each prepared once, then reused
