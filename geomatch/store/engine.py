"""Opening the review store: the database URL, the engine, schema migrations and write transactions.

The store is a SQLite file by default and PostgreSQL by URL (``postgresql+psycopg://user@host/db``). The URL
comes from the caller, else the ``GEOMATCH_DB`` environment variable, else ``sqlite:///geomatch.db`` (a file
in the working directory). The schema is migrated to the newest version the first time a process opens a URL.

Writers never interleave: on SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (the database write
lock, waited for up to :data:`BUSY_TIMEOUT_S`) and the file runs in WAL mode, so readers are not blocked; geomatch's
writers first queue for an advisory file lock beside the database (``FILE-writers``), which hands the turn to the next
process within a millisecond where SQLite's busy handler sleeps up to 100 ms between tries. On PostgreSQL every
write transaction first takes a transaction-level advisory lock. A write is one transaction,
so a process killed in the middle leaves nothing half-written.
"""
from __future__ import annotations

import contextvars
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
import contextlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from geomatch.core.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_DB_URL = "sqlite:///geomatch.db"
DB_ENV_VAR = "GEOMATCH_DB"
BUSY_TIMEOUT_S = 60.0
_PG_WRITE_LOCK_KEY = 0x67656F6D  # "geom": the advisory lock every store writer takes on PostgreSQL
_MIGRATIONS = Path(__file__).with_name("migrations")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def resolve_db_url(db_url: str | None = None) -> str:
    """The store's URL: ``db_url`` if given, else ``$GEOMATCH_DB``, else :data:`DEFAULT_DB_URL`."""
    return db_url or os.environ.get(DB_ENV_VAR) or DEFAULT_DB_URL


def shown_url(db_url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return sa.make_url(db_url).render_as_string(hide_password=True)


def get_engine(db_url: str | None = None) -> Engine:
    """The engine for a store URL, created (and the schema migrated to the newest version) on first use."""
    url = resolve_db_url(db_url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _migrate(engine)
            _engines[url] = engine
        return engine


def _forget_engines_in_child() -> None:
    """After ``fork``: drop the parent's pooled connections without closing them (they are the parent's)."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    for writer in _writers.values():  # a write turn another thread of the parent held is the parent's to release
        if isinstance(writer.processes, _ProcessesLock) and writer.processes.fd is not None:
            os.close(writer.processes.fd)  # the child's copy: left open, it would keep the parent's flock held
    _writers.clear()  # a lock another thread of the parent held would stay held here


os.register_at_fork(after_in_child=_forget_engines_in_child)


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise InputError(f"'{url}' is not a database URL (try sqlite:///geomatch.db)") from error
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return _create_postgresql_engine(parsed)
    raise InputError(f"database {shown_url(url)} is not supported: use sqlite:///FILE or postgresql+psycopg://...")


#: The execution option that marks a statement :func:`prepared`.
_PREPARED_OPTION = "geomatch_prepared"


def prepared(statement: sa.Executable) -> sa.Executable:
    """``statement``, to be kept prepared by PostgreSQL (parsed and planned once per connection, then run with each
    call's values): for the few statements run on every web request, each a lookup by key whose plan is the same
    whatever the values. Planning them again on every run was half of PostgreSQL's CPU for a hit page. SQLite
    ignores the mark (its statements are kept compiled anyway)."""
    return statement.execution_options(**{_PREPARED_OPTION: True})


def _create_postgresql_engine(url: sa.URL) -> Engine:
    """PostgreSQL: only :func:`prepared` statements are kept prepared on the server.

    The others are planned with their own values each time: a prepared statement's generic plan turned the 1000-key
    IN lookups of record_run into sequential scans (re-recording 30,000 hits took 65 s instead of 3.5 s). psycopg
    prepares a statement when its connection's ``prepare_threshold`` allows at the moment it runs: set before each
    statement, and back to never when the connection returns to the pool (the pool's ping, an empty query, would
    otherwise leave a new prepared statement on the server each time).
    """
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _prepare_or_not(_conn, cursor, _statement, _parameters, context, _executemany) -> None:
        cursor.connection.prepare_threshold = (
            0 if context is not None and context.execution_options.get(_PREPARED_OPTION) else None)

    @sa.event.listens_for(engine.pool, "checkin")
    def _never_prepare(dbapi_connection, _record) -> None:
        if dbapi_connection is not None and not dbapi_connection.closed:
            dbapi_connection.prepare_threshold = None

    return engine


def _create_sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not Path(database).parent.exists():
        raise InputError(f"the folder of the SQLite database {database} does not exist")
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the sqlite3 module, issues BEGIN
        cursor = dbapi_connection.cursor()
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("geomatch_write") else "BEGIN")

    return engine


def _set_wal(cursor) -> None:
    """Put the SQLite file in WAL mode, waiting up to :data:`BUSY_TIMEOUT_S` for other processes.

    Switching the journal mode needs the database to itself, and SQLite answers "database is locked" at once,
    without waiting the busy timeout, when another connection is opening the same new file at that moment; so the
    switch is retried until the timeout. A file already in WAL mode (every store after its first opening) is only
    asked, which takes no lock.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def store_exists(db_url: str | None = None) -> bool:
    """Whether the store exists: its SQLite file is there, or its PostgreSQL database holds a geomatch schema."""
    url = resolve_db_url(db_url)
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        return database in ("", ":memory:") or Path(database).is_file()
    engine = _create_engine(url)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).has_table("alembic_version")
    except sa.exc.OperationalError as error:
        raise InputError(f"cannot open the database {shown_url(url)}: {error.orig}") from error
    finally:
        engine.dispose()


def require_store(db_url: str | None = None) -> str:
    """The store's URL, after checking that it exists (for commands that only read: they never create one)."""
    url = resolve_db_url(db_url)
    if url not in _engines and not store_exists(url):
        raise InputError(f"there is no review store at {shown_url(url)} (give --db URL or set ${DB_ENV_VAR}; "
                         "geomatch match --db creates one)")
    return url


_PG_WRITE_LOCK = prepared(sa.text("SELECT pg_advisory_xact_lock(:key)"))


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a write transaction that holds the store's write lock; committed on success."""
    writer = _writer(engine)
    with writer.turn, writer.processes, writer.engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(_PG_WRITE_LOCK, {"key": _PG_WRITE_LOCK_KEY})
        yield conn


class _ProcessesLock:
    """The turn that the processes writing to one SQLite file take, an exclusive ``flock`` on ``FILE-writers``
    (beside the database; never on the database itself, whose POSIX locks SQLite holds and any close would drop).

    Taken by the thread that holds this process's turn, once however deeply its write transactions nest; released
    by the kernel if the process dies. Tried every half millisecond, for up to :data:`BUSY_TIMEOUT_S` like SQLite's
    own lock: the next process gets the turn within a millisecond of its release, where SQLite's busy handler
    sleeps 1 to 100 ms between tries (two server processes writing an access-log entry per request made the
    loser wait tens of milliseconds). For a database in memory (no file) it does nothing.
    """

    def __init__(self, database: str | None) -> None:
        self.path = None if not database or database == ":memory:" else Path(f"{database}-writers")
        self.depth = 0
        self.fd: int | None = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        if self.depth == 0:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            deadline = time.monotonic() + BUSY_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        reason = f"database is locked ({self.path} held for {BUSY_TIMEOUT_S:g} s)"
                        raise sa.exc.OperationalError("BEGIN IMMEDIATE", None,
                                                      sqlite3.OperationalError(reason)) from None
                    time.sleep(0.0005)
            self.fd = fd
        self.depth += 1

    def __exit__(self, *_exc) -> None:
        if self.path is None:
            return
        self.depth -= 1
        if self.depth == 0:
            fd, self.fd = self.fd, None
            os.close(fd)  # releases the flock


@dataclass(frozen=True)
class _Writer:
    """This process's writing to one store: the turn its threads take, the turn among processes (SQLite), and the
    engine whose BEGIN takes the store's write lock (made once: ``execution_options`` builds a new engine proxy
    each time)."""

    source: Engine  # kept, so its id is not reused while this entry lives
    turn: threading.RLock
    processes: _ProcessesLock | contextlib.nullcontext
    engine: Engine


_writers: dict[int, _Writer] = {}
_writers_lock = threading.Lock()  # not _engines_lock: get_engine holds that while migrating (a write)


def _writer(engine: Engine) -> _Writer:
    with _writers_lock:
        writer = _writers.get(id(engine))
        if writer is None:
            processes = (_ProcessesLock(engine.url.database) if engine.dialect.name == "sqlite"
                         else contextlib.nullcontext())
            writer = _Writer(engine, threading.RLock(), processes, engine.execution_options(geomatch_write=True))
            _writers[id(engine)] = writer
        return writer


def writer_turn(engine: Engine) -> threading.RLock:
    """The lock that this process's writers of ``engine`` take in turn before the store's own write lock.

    Threads of one process queue here rather than in SQLite's busy handler (which sleeps up to 100 ms between
    tries: under many concurrent writers, the web application, that made the slowest writes wait seconds) or
    holding a PostgreSQL connection while they wait for the advisory lock. Re-entrant: a holder may open a write
    transaction (:mod:`geomatch.store.access` holds it to write the entries queued meanwhile in one transaction).
    """
    return _writer(engine).turn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a read transaction (one consistent snapshot on both backends).

    Inside :func:`shared_reads`, the block's read transaction on ``engine`` (begun by its first read).
    """
    shared = _shared_reads.get()
    if shared is None:
        with _read_transaction(engine) as conn:
            yield conn
        return
    conn = shared.connections.get(id(engine))
    if conn is None:
        conn = shared.connections[id(engine)] = shared.ending.enter_context(_read_transaction(engine))
    yield conn


@contextmanager
def _read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@dataclass(frozen=True)
class _SharedReads:
    """The read transactions of a :func:`shared_reads` block, by engine, and how they end (with the block)."""

    ending: contextlib.ExitStack
    connections: dict[int, Connection]


#: Per thread (and asyncio task): the innermost :func:`shared_reads` block.
_shared_reads: contextvars.ContextVar[_SharedReads | None] = contextvars.ContextVar("geomatch_shared_reads",
                                                                                    default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """A block in which this thread's reads of a store share one read transaction: one snapshot, one connection
    from the pool, one BEGIN and COMMIT, however many store functions read (a web page reads its user's session,
    then the hit and its history). Begun by the block's first read, ended with the block (rolled back if the block
    raises); writes inside it are their own transactions, as ever, and the block's later reads do not see them.

    On PostgreSQL each transaction costs two round trips and each connection taken from the pool a third (its
    ping): a hit page read in three transactions took 21 round trips to the server, each a turn on a busy machine's
    cores for the server's process and then the application's.
    """
    with contextlib.ExitStack() as ending:
        token = _shared_reads.set(_SharedReads(ending, {}))
        try:
            yield
        finally:
            _shared_reads.reset(token)


def _migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest version, under the write lock so concurrent first uses are safe."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with write_transaction(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except sa.exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
        raise InputError(f"cannot open the database {shown_url(str(engine.url))}: {reason}") from error
    except sa.exc.DatabaseError as error:  # e.g. SQLite's "file is not a database": some other file given as --db
        raise InputError(f"{shown_url(str(engine.url))} is not a geomatch review store ({error.orig}): give "
                         "the database that geomatch match --db wrote") from error
    except CommandError as error:  # e.g. a schema version this geomatch does not know (made by a newer one)
        raise InputError(f"the database {shown_url(str(engine.url))} has a schema this geomatch cannot use: "
                         f"{error}") from error
    log.info("store %s at the newest schema version", shown_url(str(engine.url)))
