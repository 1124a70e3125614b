"""Ids a source row may carry into the shards: checked at the source stage, so a bad id is a rejection.

The shards store ids in fixed-width byte fields (:data:`egoimu.manifests.shardfmt.ID_WIDTHS`: clip_id 64,
narration_id 32, participant_id 16, video_id 32 bytes of UTF-8, no NUL). An id that does not fit would stop
the shard writer; here it becomes an ``id_too_long`` rejection naming the field and its width. An id with a
control character (NUL included) is a ``bad_id``, and so is a participant or video id that is not a plain
file-name component (the build looks for ``PXX/videos/<video_id>.MP4``): letters, digits, ``_``, ``-``, ``.``,
starting with a letter or digit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from egoimu.manifests.shardfmt import ID_WIDTHS

#: Stable rejection reasons (recorded in clips.csv ``reason``).
ID_TOO_LONG = "id_too_long"
BAD_ID = "bad_id"

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Ids that the build also uses as parts of a path under the dataset root.
PATH_IDS: tuple[str, ...] = ("participant_id", "video_id")
_SHOWN = 40  # characters of a long id shown in a message


def printable(text: str) -> str:
    """``text`` safe to print and to write as UTF-8: undecodable bytes (lone surrogates from
    ``errors='surrogateescape'``) become U+FFFD, control characters ``\\xNN`` escapes."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in text)


def shown(value: str) -> str:
    """``value`` for a message: printable, quoted, cut after 40 characters."""
    value = printable(value)
    return f"'{value if len(value) <= _SHOWN else value[:_SHOWN] + '…'}'"


def too_long(ids: Mapping[str, str]) -> tuple[str, str] | None:
    """``(ID_TOO_LONG, detail)`` for the first id (field name of ``ID_WIDTHS`` → value) whose UTF-8 bytes
    exceed its shard field's width, else None."""
    for name, value in ids.items():
        size, width = len(value.encode("utf-8", "surrogateescape")), ID_WIDTHS[name]
        if size > width:
            return ID_TOO_LONG, (f"{name} {shown(value)} is {size} bytes (UTF-8); the shard's {name} field "
                                 f"holds {width}")
    return None


def bad_chars(ids: Mapping[str, str]) -> tuple[str, str] | None:
    """``(BAD_ID, detail)`` for the first id with a control character (NUL included), or a participant or
    video id that is not a plain file-name part, else None."""
    for name, value in ids.items():
        if any(unicodedata.category(c) == "Cc" for c in value):
            return BAD_ID, f"{name} {shown(value)} holds a control character"
        if name in PATH_IDS and not _COMPONENT.fullmatch(value):
            return BAD_ID, (f"{name} {shown(value)} is not a plain file-name part (letters, digits, '_', '-', "
                            f"'.'; starting with a letter or digit)")
    return None


def id_problem(ids: Mapping[str, str]) -> tuple[str, str] | None:
    """:func:`too_long`, else :func:`bad_chars`: ``(reason, detail)`` when an id cannot be stored, else None."""
    return too_long(ids) or bad_chars(ids)
