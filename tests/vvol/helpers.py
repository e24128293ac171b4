"""Builders for hand-made V-VOL rows with known answers, and where the shared real data lives."""
from __future__ import annotations

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
