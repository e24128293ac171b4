"""Builders for hand-made V-VOL rows with known answers, and where the shared real data lives."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"


def crime(ref: str, when: str, offence: str = "common_assault", *, e: float = 616000, n: float = 244000,
          premises: str | None = None, area: str = "Ipswich", domestic: str = "N") -> dict:
    """One crime row in the project format (naive UK local time)."""
    return {"crime_ref": ref, "offence": offence, "committed_from": when, "committed_to": when, "easting": e,
            "northing": n, "premises_id": premises, "area": area, "domestic": domestic}


def inv(ref: str, person: str, role: str = "victim", vulnerable: str = "") -> dict:
    """One involvement row."""
    return {"crime_ref": ref, "person_id": person, "role": role, "vulnerable": vulnerable}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""Debian's Chromium, for the tests that open the pages in a real browser (installed by .ci/run)."""


def render_in_chromium(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran, from headless Chromium (a fresh profile, no network)."""
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
                          page.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout
