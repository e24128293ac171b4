"""Alembic migrations of the review store, run programmatically by :func:`geomatch.store.engine.get_engine`.

To change the schema, add a module to ``versions/`` (next number, ``down_revision`` = the current head) and
update :mod:`geomatch.store.schema` to match; ``tests/geomatch/test_store.py`` checks that they agree.
"""
