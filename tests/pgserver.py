"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary folder, served on a Unix socket.

Used by the test suite to run the store's tests against real PostgreSQL when the server binaries are installed
(Debian's ``postgresql`` package puts them in ``/usr/lib/postgresql/VERSION/bin``). PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_SERVER_USER = "postgres"
_DB_USER = "geomatch"


def find_postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's ``bin`` folder, or None."""
    versions = [Path(p).parent.parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    versions = [v for v in versions if v.name.isdigit()]
    if versions:
        return max(versions, key=lambda v: int(v.name)) / "bin"
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_no_postgres() -> str | None:
    """Why a test server cannot be started here, or None when it can."""
    if find_postgres_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed; apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_SERVER_USER)
        except KeyError:
            return f"running as root and there is no '{_SERVER_USER}' user to run PostgreSQL as"
    return None


class PostgresServer:
    """A PostgreSQL server in a temporary folder, reachable only through its Unix socket."""

    def __init__(self) -> None:
        bin_dir = find_postgres_bin()
        if bin_dir is None:
            raise RuntimeError(why_no_postgres())
        self._bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="geomatch-pg-"))
        self._as_root = os.geteuid() == 0
        if self._as_root:
            user = pwd.getpwnam(_SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.port = _free_port()
        self._n_databases = 0
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", _DB_USER, "-A", "trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")
        options = f"-c listen_addresses='' -c unix_socket_directories={self.root} -p {self.port} -c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        self._data = data

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if self._as_root:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3) of a database on this server."""
        return f"postgresql+psycopg://{_DB_USER}@/{database}?host={self.root}&port={self.port}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        self._n_databases += 1
        name = f"test_{self._n_databases}"
        with psycopg.connect(host=str(self.root), port=self.port, user=_DB_USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    """A port number no local TCP server uses (it only names the socket file here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_shared: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """One server for the whole test process, stopped when the process exits."""
    global _shared
    if _shared is None:
        _shared = PostgresServer()
        atexit.register(_shared.stop)
    return _shared


def store_url(backend: str, folder: Path) -> str:
    """A fresh, empty store: a SQLite file in ``folder``, or a new database on the shared PostgreSQL server."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'geomatch.db'}"
    return shared_server().new_database()
