"""The review vocabulary, with no database import (the command line builds its choices from it at start-up)."""
from __future__ import annotations

OUTCOMES: tuple[str, ...] = (
    "no_further_action", "already_known", "intelligence_submitted", "investigation",
    "arrest", "charge", "caution", "recall",
)
"""The outcomes a review event may record, in the order the audit lists them."""
PENDING = "pending"
"""The status of a hit that has no review event yet."""
