"""A child process's job for the concurrency tests, in a module of its own so that spawned children import little."""
from __future__ import annotations


def open_new_store(url: str, start, results) -> None:
    """Wait for ``start``, open the store at ``url`` (creating it) and put the number of hits, or the error."""
    import sqlalchemy as sa

    from geomatch.store.engine import get_engine

    start.wait()
    try:
        with get_engine(url).connect() as conn:
            results.put(conn.execute(sa.text("SELECT count(*) FROM hits")).scalar())
    except Exception as error:  # reported to the parent, which fails the test with it
        results.put(repr(error))
