"""How one ``geomatch serve`` runs: its store, evidence folder, secret and policy choices."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from geomatch.core.errors import InputError

SECRET_ENV_VAR = "GEOMATCH_SECRET_KEY"
SETTINGS_ENV_VAR = "GEOMATCH_WEB_SETTINGS"  # how `geomatch serve --workers N` hands its settings to the workers


@dataclass(frozen=True)
class WebSettings:
    """Settings of the review web application.

    Attributes:
        db_url: the review store (None: ``$GEOMATCH_DB`` or ``sqlite:///geomatch.db``).
        evidence_dir: the folder of evidence packs (``geomatch evidence --out`` or ``match --evidence``); a hit's
            pack is ``evidence_dir/<hit id>/``. None: pages show no evidence.
        secret_key: signs session cookies and CSRF tokens (default ``$GEOMATCH_SECRET_KEY``, else random per
            process, so sessions end when the server restarts).
        trust_user_header: take the user name from this request header, set by a single-sign-on reverse proxy
            (None: off). Only safe when the proxy is the only way to reach the server.
        reviewers_see_all: reviewers see and review every hit, not only those assigned to them.
        review_days: agreed time from receiving a hit to its first review, in days; pending hits older stand out.
        secure_cookies: mark cookies Secure (served over HTTPS by a reverse proxy).
        page_size: hits per queue page.
        login_delay_s: the first failed login's answer is delayed this long, doubling with each further
            consecutive failure (at most 16 times as long), on top of the lock after repeated failures.
    """

    db_url: str | None = None
    evidence_dir: Path | None = None
    secret_key: str = field(default_factory=lambda: os.environ.get(SECRET_ENV_VAR) or secrets.token_urlsafe(32))
    trust_user_header: str | None = None
    reviewers_see_all: bool = False
    review_days: float = 2.0
    secure_cookies: bool = False
    page_size: int = 50
    login_delay_s: float = 0.25

    def __post_init__(self) -> None:
        if self.evidence_dir is not None and not Path(self.evidence_dir).is_dir():
            raise InputError(f"the evidence folder {self.evidence_dir} does not exist")
        if len(self.secret_key) < 16:
            raise InputError(f"the secret key (${SECRET_ENV_VAR}) is shorter than 16 characters")
        if not self.review_days > 0:
            raise InputError(f"the review time must be more than 0 days, not {self.review_days}")
        if not 1 <= self.page_size <= 500:
            raise InputError(f"a queue page holds 1 to 500 hits, not {self.page_size}")
        if self.trust_user_header is not None and not self.trust_user_header.strip():
            raise InputError("--trust-user-header needs a header name, e.g. X-Remote-User")


def settings_to_json(settings: WebSettings) -> str:
    """The settings as JSON (for worker processes; it holds the secret key, so it goes only to children)."""
    values = asdict(settings)
    values["evidence_dir"] = None if settings.evidence_dir is None else str(settings.evidence_dir)
    return json.dumps(values)


def settings_from_json(text: str) -> WebSettings:
    values = json.loads(text)
    if values["evidence_dir"] is not None:
        values["evidence_dir"] = Path(values["evidence_dir"])
    return WebSettings(**values)
