"""Safe folder names for evidence packs.

A pack folder is named from the hit id (``H`` + hex, already safe). The function below is also safe for any
text, such as a crime reference from an input file: path separators, ``..``, control characters, reserved
device names and over-long names never reach the file system, and two different texts never share a name.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME = 80


def safe_folder_name(text: str, max_len: int = MAX_NAME) -> str:
    """A folder name made from ``text``: ASCII letters, digits, ``.``, ``_`` and ``-`` only, never starting with
    a dot, never a reserved device name, at most ``max_len`` characters.

    Text that is already such a name is kept as it is; any other text gets the first 10 hex digits of its
    SHA-256 appended, so distinct texts give distinct names (``../x`` and ``_x`` do not collide).
    """
    text = str(text)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE.sub("_", ascii_text).lstrip("._-")[:max_len]
    stem = name.split(".", 1)[0].upper()
    if name == text and name and stem not in _RESERVED:
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    base = name.replace(".", "_")[: max_len - len(digest) - 1] or "x"  # no dot: no "CON.txt"-style stem
    return f"{base}-{digest}"
