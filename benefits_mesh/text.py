"""Safe terminal output of text that comes from outside (file names, raw values, paths).

A landing file may be named ``employees_\\x1b[2J_2026-01-05.csv`` or carry a newline, and a raw
value may hold any character. Printed as is, such text can move the cursor, clear the screen,
recolour or hide what follows, reorder it (Unicode bidi overrides) or forge a line of output
that a reader or a monitor takes for the tool's own. :func:`printable` shows every such
character as a visible escape instead, and leaves ordinary text, including non-ASCII letters,
untouched. Backslashes are kept as they are (a name holding a literal ``\\n`` prints the same as
one holding a newline, but cannot break the line).
"""

from __future__ import annotations

_NAMED = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}

#: bidi embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), and the Unicode
#: line and paragraph separators (U+2028, U+2029), which some tools split lines on
_UNICODE = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]

_ESCAPES: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in range(0x20)},  # C0 controls
    0x7F: "\\x7f",  # DEL
    **{code: f"\\x{code:02x}" for code in range(0x80, 0xA0)},  # C1 controls
    **{code: f"\\u{code:04x}" for code in _UNICODE},
    **_NAMED,
}


def printable(value: object) -> str:
    """``str(value)`` with control, bidi-override and line-separator characters escaped.

    >>> printable("claims_\\x1b[31m\\n2026-01-05.csv")
    'claims_\\\\x1b[31m\\\\n2026-01-05.csv'
    >>> printable("Zoë 中文")
    'Zoë 中文'
    """
    return str(value).translate(_ESCAPES)
