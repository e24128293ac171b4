"""The Jinja2 environment of the pages: autoescaping on, and filters that show stored values to people."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from fastapi.templating import Jinja2Templates

from geomatch.core.version import __version__
from geomatch.store.schema import OUTCOMES
from geomatch.store.review import UK as UK_TZ
from geomatch.store.text import display_value


def short_uk(value: datetime | None) -> str:
    """A UTC time (timezone-aware) as a short UK local time for tables: ``10 Jun 2026 14:23 BST`` (``—`` when
    missing). Plain ``datetime`` arithmetic: this runs twice for each row of every queue page."""
    if value is None or value is pd.NaT:
        return "—"
    return value.astimezone(UK_TZ).strftime("%d %b %Y %H:%M %Z")


def outcome_label(outcome: str) -> str:
    """``intelligence_submitted`` -> ``Intelligence submitted``."""
    return outcome.replace("_", " ").capitalize()


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
    env = templates.env
    env.autoescape = True  # every template, whatever its name
    env.filters["shown"] = display_value
    env.filters["outcome"] = outcome_label
    env.filters["short_uk"] = short_uk
    env.globals["OUTCOMES"] = OUTCOMES
    env.globals["VERSION"] = __version__  # in the static files' URLs, which are cached for a year
    return templates
