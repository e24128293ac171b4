"""The commands around the web application: users, subjects, access-log, audit verify over both chains."""
from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

import cli
from geomatch.store import get_engine, record_run
from geomatch.store.accounts import user_by_token
from tests.geomatch.web.conftest import crimes, hits


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli.geomatch, list(args), input=input)


def test_users_add_token_disable_enable_list(tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    made = run("users", "add", "ann", "--role", "reviewer", "--team", "north", "--password-stdin", "--db", db,
               input="a long enough password\n")
    assert made.exit_code == 0 and "user ann added (reviewer, team north)" in made.output
    assert run("users", "add", "ann", "--role", "admin", "--db", db).exit_code == 2  # already there
    short = run("users", "add", "bob", "--role", "admin", "--password-stdin", "--db", db, input="short\n")
    assert short.exit_code == 2 and "shorter than 12" in short.output
    assert "not one of" in run("users", "add", "x", "--role", "god", "--db", db).output
    bad = run("users", "add", "../evil", "--role", "reviewer", "--db", db)
    assert bad.exit_code == 2 and "is not 1-128 letters" in bad.output
    token = run("users", "token", "ann", "--db", db).output.strip()
    assert token.startswith("gm_") and user_by_token(db, token).username == "ann"
    with get_engine(db).connect() as conn:  # only the hash is stored
        assert token not in str(conn.execute(sa.text("SELECT * FROM users")).all())
    assert run("users", "disable", "ann", "--db", db).exit_code == 0 and user_by_token(db, token) is None
    assert "ann\treviewer\tnorth\tdisabled" in run("users", "list", "--db", db).output
    assert run("users", "enable", "ann", "--db", db).exit_code == 0 and user_by_token(db, token) is not None
    assert run("users", "disable", "nobody", "--db", db).exit_code == 2


def test_subjects_load_reports_and_refuses_bad_files(tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    record_run(db, hits(), crimes())
    path = tmp_path / "subjects.csv"
    path.write_text("subject_id,offender_manager,team\nS1,rita,north\nS2,rob,south\n")
    loaded = run("subjects", "load", str(path), "--db", db)
    assert loaded.exit_code == 0 and "subjects: 2 new, 0 changed, 0 unchanged" in loaded.output
    assert "without an account yet (geomatch users add): rita, rob" in loaded.output
    path.write_text("subject_id,offender_manager,team\nS1,rita,north\nS2,ruth,south\n")
    assert "0 new, 1 changed, 1 unchanged" in run("subjects", "load", str(path), "--db", db).output
    path.write_text("subject,offender_manager\nS1,rita\n")
    missing = run("subjects", "load", str(path), "--db", db)
    assert missing.exit_code == 2 and "has no 'subject_id' column" in missing.output and str(path) in missing.output
    path.write_text("subject_id,offender_manager\nS1,rita\nS1,rob\n")
    assert "lists subject 'S1' twice" in run("subjects", "load", str(path), "--db", db).output
    path.write_text("subject_id,offender_manager\nS1,\n")
    assert "empty 'offender_manager' on line 2" in run("subjects", "load", str(path), "--db", db).output


def test_access_log_lists_escapes_and_audit_verify_checks_it(tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    run("users", "add", "ann", "--role", "auditor", "--db", db)
    from geomatch.store.access import Access, log_access

    log_access(db, Access("\x1b[31mmallory\r", "login_failed", "", "10.0.0.9", "unknown user"))
    listed = run("access-log", "--db", db)
    assert listed.exit_code == 0 and "user_add" in listed.output and "\x1b" not in listed.output
    assert "\\x1b[31mmallory\\x0d" in listed.output and "2 entries" in listed.output
    assert "1 entry" in run("access-log", "--user", "command line", "--db", db).output
    assert "no accesses match" in run("access-log", "--since", "2999-01-01", "--db", db).output
    verified = run("audit", "verify", "--db", db)
    assert verified.exit_code == 0 and "access log intact: 2 entries" in verified.output
    engine = get_engine(db)
    with engine.begin() as conn:  # someone with direct database access drops the guard and edits an entry
        conn.execute(sa.text("DROP TRIGGER access_log_no_update"))
        conn.execute(sa.text("UPDATE access_log SET username = 'nobody' WHERE seq = 2"))
    broken = run("audit", "verify", "--db", db)
    assert broken.exit_code == 1 and "access log BROKEN at access 2" in broken.output
    assert "review chain intact" in broken.output
