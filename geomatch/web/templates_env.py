"""The Jinja2 environment of the pages: autoescaping on, and filters that show stored values to people."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
from fastapi.templating import Jinja2Templates

from geomatch.core.version import __version__
from geomatch.store.schema import OUTCOMES
from geomatch.store.review import UK as UK_TZ
from geomatch.store.text import display_value


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=8192)
def short_uk(value: datetime | None) -> str:
    """A UTC time (timezone-aware) as a short UK local time for tables: ``10 Jun 2026 14:23 BST`` (``—`` when
    missing). Runs twice for each row of every queue page: remembered for the times shown lately (the top of the
    queue is read over and over), and formatted without ``strftime`` (half the time: no locale lookups)."""
    if value is None or value is pd.NaT:
        return "—"
    local = value.astimezone(UK_TZ)
    return f"{local.day:02d} {_MONTHS[local.month - 1]} {local.year} {local.hour:02d}:{local.minute:02d} {local.tzname()}"


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
