"""The web application as an attacker would try it: no login, the wrong role, forged or missing CSRF tokens,
script in crime records and notes, path tricks on pack files, SQL in filters, disabled accounts, guessing."""
from __future__ import annotations

from fastapi.testclient import TestClient

from geomatch.store import add_review, get_hit
from geomatch.store.accounts import LOCK_AFTER, set_active
from geomatch.store.access import list_access
from geomatch.web import WebSettings, create_app
from tests.geomatch.web.conftest import EVIL, PASSWORD, bearer, csrf_of, login

MONTH = "2026-10"
#: Every route: (method, path, permission needed; None: any logged-in user).
ROUTES = [
    ("GET", "/", None), ("GET", "/hits/H01", "view_hits"), ("GET", "/hits/H01/files/map.html", "view_hits"),
    ("GET", "/hits/H01/pack.zip", "view_hits"), ("POST", "/hits/H01/review", "review"),
    ("POST", "/hits/H01/assign", "assign"), ("GET", f"/audit?month={MONTH}", "export"),
    ("GET", "/access-log", "access_log"), ("GET", "/admin/users", "users"), ("POST", "/admin/users", "users"),
    ("POST", "/admin/users/rob/disable", "users"), ("POST", "/logout", None),
    ("GET", "/api/hits", "view_hits"), ("GET", "/api/hits/H01", "view_hits"),
    ("POST", "/api/hits/H01/reviews", "review"), ("GET", "/api/access-log", "access_log"),
]
ROLE_OF = {"rita": "reviewer", "sue": "supervisor", "ava": "auditor", "adam": "admin"}


def test_every_route_needs_a_login(client):
    for method, path, _ in ROUTES:
        response = client.request(method, path, follow_redirects=False,
                                  **({"json": {"outcome": "arrest"}} if path.startswith("/api/") and method == "POST"
                                     else {}))
        if path.startswith("/api/"):
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", path
        else:
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path


def test_every_route_checks_the_role(client, tokens):
    from geomatch.web.auth import PERMISSIONS

    for user, role in ROLE_OF.items():
        headers = bearer(tokens, user)  # a token needs no CSRF token: the role decides alone
        for method, path, permission in ROUTES:
            if permission is None:
                continue
            kwargs = {"json": {"outcome": "arrest"}} if path.startswith("/api/") and method == "POST" else {
                "data": {"assignee": "rita", "username": "zed", "role": "reviewer", "outcome": "arrest"}}
            response = client.request(method, path, headers=headers, follow_redirects=False, **kwargs)
            allowed = role in PERMISSIONS[permission]
            assert (response.status_code != 403) == allowed, (user, method, path, response.status_code)


def test_a_reviewer_cannot_open_or_review_another_reviewers_hit(client, tokens):
    login(client, "rita")
    assert client.get("/hits/H02").status_code == 403  # rob's
    assert client.get("/hits/H02/files/map.html").status_code == 403
    assert client.get("/api/hits/H02", headers=bearer(tokens, "rita")).status_code == 403
    assert client.get("/hits/H99").status_code == 404


FORMS = [
    ("/hits/H01/review", {"outcome": "arrest"}),
    ("/hits/H01/assign", {"assignee": "rita"}),
    ("/admin/users", {"username": "mallory", "role": "admin", "password": "x" * 20}),
    ("/admin/users/rob/disable", {}),
    ("/logout", {}),
]


def test_forms_refuse_a_missing_or_forged_csrf_token(settings):
    clients = {}
    for name in ("sue", "adam"):
        clients[name] = TestClient(create_app(settings), base_url="http://127.0.0.1")
        login(clients[name], name)
    tokens = {"sue": csrf_of(clients["sue"].get("/hits/H01").text),
              "adam": csrf_of(clients["adam"].get("/admin/users").text)}
    for path, data in FORMS:
        user = "adam" if path.startswith("/admin") else "sue"
        other = "sue" if user == "adam" else "adam"
        for given in (None, "0" * 64, tokens[other]):  # missing, forged, another session's
            form = dict(data, **({"csrf_token": given} if given else {}))
            response = clients[user].post(path, data=form, follow_redirects=False)
            assert response.status_code == 403 and "CSRF" in response.text, (path, given)
    assert get_hit(settings.db_url, "H01").events == []
    assert "mallory" not in clients["adam"].get("/admin/users").text
    assert clients["sue"].get("/", follow_redirects=False).status_code == 200  # still logged in


def test_the_api_with_a_session_cookie_needs_the_csrf_header(client):
    login(client, "rita")
    assert client.post("/api/hits/H01/reviews", json={"outcome": "arrest"}).status_code == 403
    csrf = csrf_of(client.get("/hits/H01").text)
    made = client.post("/api/hits/H01/reviews", json={"outcome": "arrest"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_login_form_refuses_a_forged_csrf_token(client):
    client.get("/login")
    response = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": "x"})
    assert response.status_code == 403
    assert "gm_session" not in client.cookies


def test_text_from_crime_records_reasons_and_notes_is_escaped(client, db_url):
    add_review(db_url, "H04", outcome="investigation", by="rita", note=EVIL)
    login(client, "ava")
    for page in (client.get("/hits/H04").text, client.get("/?status=all").text):
        assert "<script>alert(1)</script>" not in page and "onerror=alert" not in page.replace(
            "onerror=alert(2)&gt;", "")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;" in client.get("/hits/H04").text
    login_page = client.get("/login?next=%22%3E%3Cscript%3Ealert(3)%3C/script%3E").text
    assert "<script>alert(3)" not in login_page


def test_every_page_has_a_strict_content_security_policy(client):
    login(client, "ava")
    for path in ("/", "/hits/H01", "/login", "/access-log"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"] and "unsafe" not in headers[
            "content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"


TRICKS = ["/hits/H01/files/..%2Fsecret.txt", "/hits/H01/files/%2e%2e%2fsecret.txt", "/hits/H01/files/..%5Csecret.txt",
          "/hits/H01/files/secret.txt", "/hits/H01/files/%2e%2e", "/hits/..%2Fsecret.txt/pack.zip",
          "/hits/H01%2F..%2F..%2Fsecret.txt/files/map.html", "/hits/H01/files/map.html%00.txt",
          "/hits/%2e%2e/files/secret.txt", "/hits/H01/files/%2fetc%2fpasswd", "/hits/H01/files/manifest.json"]


def test_pack_file_names_with_dots_and_encoded_separators_are_refused(client):
    login(client, "ava")
    for path in TRICKS:
        response = client.get(path)
        assert response.status_code in (400, 403, 404) and "not a pack file" not in response.text, path
    assert client.get("/hits/H01/files/map.html").status_code == 200


def test_filter_values_with_sql_metacharacters_are_harmless(client, tokens, db_url):
    login(client, "ava")
    for value in ["' OR 1=1 --", "S1' OR '1'='1", "x\"; DROP TABLE hits; --", "%", "_", "\\"]:
        for name in ("subject", "offence"):
            response = client.get("/", params={name: value, "status": "all"})
            assert response.status_code == 200 and "No hits match" in response.text
            assert client.get("/api/hits", params={name: value, "status": "all"},
                              headers=bearer(tokens, "ava")).json()["hits"] == []
    assert len(client.get("/api/hits?status=all", headers=bearer(tokens, "ava")).json()["hits"]) == 5


def test_a_disabled_users_token_and_session_are_refused(client, tokens, db_url):
    login(client, "rita")
    assert client.get("/", follow_redirects=False).status_code == 200
    assert client.get("/api/hits", headers=bearer(tokens, "rita")).status_code == 200
    set_active(db_url, "rita", False)
    assert client.get("/api/hits", headers=bearer(tokens, "rita")).status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303  # the session ended
    assert "Wrong user name or password" in login(client, "rita").text
    assert client.get("/api/hits", headers={"Authorization": "Bearer gm_not-a-token"}).status_code == 401
    assert client.get("/api/hits", headers={"Authorization": "Basic cml0YTpwdw=="}).status_code == 401


def test_repeated_failed_logins_slow_down_and_lock(client, db_url):
    for _ in range(LOCK_AFTER - 1):
        assert "Wrong user name or password" in login(client, "rob", "not the password").text
    assert "locked" in login(client, "rob", "not the password").text  # the last failure allowed locks
    page = login(client, "rob")  # the right password, but locked
    assert "locked" in page.text and "gm_session" not in client.cookies
    failures = list_access(db_url, user="rob")
    assert failures["action"].tolist()[:2] == ["login_failed", "login_failed"]
    assert "account locked" in failures["detail"].iloc[0]
    set_active(db_url, "rob", True)  # geomatch users enable lifts the lock
    assert login(client, "rob").url.path == "/"


def test_a_failed_login_for_an_unknown_name_is_logged_as_typed(client, db_url):
    login(client, "<b>nobody</b>", "guess")
    entry = list_access(db_url, user="<b>nobody</b>").iloc[0]
    assert entry["action"] == "login_failed" and entry["detail"] == "unknown user"


def test_session_cookie_is_signed_httponly_samesite_and_forgeries_fail(client):
    page = client.get("/login")
    response = client.post("/login", data={"username": "rita", "password": PASSWORD,
                                           "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert "gm_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    client.cookies.clear()
    client.cookies.set("gm_session", "forged.value")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_never_redirects_to_another_site(client):
    page = client.get("/login")
    response = client.post("/login", data={"username": "rita", "password": PASSWORD, "next": "//evil.example/x",
                                           "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_trusted_user_header_only_when_configured(settings, tokens):
    plain = TestClient(create_app(settings), base_url="http://127.0.0.1")
    assert plain.get("/", headers={"X-Remote-User": "ava"}, follow_redirects=False).status_code == 303
    proxied = TestClient(create_app(WebSettings(**{**settings.__dict__, "trust_user_header": "X-Remote-User"})),
                         base_url="http://127.0.0.1")
    page = proxied.get("/hits/H01", headers={"X-Remote-User": "rita"})
    assert page.status_code == 200 and "rita (reviewer" in page.text
    made = proxied.post("/hits/H01/review", headers={"X-Remote-User": "rita"},
                        data={"outcome": "arrest", "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert made.status_code == 303 and get_hit(settings.db_url, "H01").events[-1].by == "rita"
    assert proxied.post("/hits/H01/review", headers={"X-Remote-User": "sue"},  # rita's token is not sue's
                        data={"outcome": "arrest", "csrf_token": csrf_of(page.text)}).status_code == 403
    assert proxied.get("/", headers={"X-Remote-User": "mallory"}, follow_redirects=False).status_code == 303
