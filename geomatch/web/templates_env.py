"""The Jinja2 environment of the pages: autoescaping on, and filters that show stored values to people."""
from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from geomatch.store.schema import OUTCOMES
from geomatch.store.text import display_value


def outcome_label(outcome: str) -> str:
    """``intelligence_submitted`` -> ``Intelligence submitted``."""
    return outcome.replace("_", " ").capitalize()


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
    env = templates.env
    env.autoescape = True  # every template, whatever its name
    env.filters["shown"] = display_value
    env.filters["outcome"] = outcome_label
    env.globals["OUTCOMES"] = OUTCOMES
    return templates
