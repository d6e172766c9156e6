"""How many SMS parts a body takes: its encoding (GSM-7 or UCS-2) and its segment count.

Pure: a string in, a pair out. Used when the provider does not report the
number of parts it billed.
"""

from __future__ import annotations

GSM_7 = "GSM-7"
UCS_2 = "UCS-2"

# GSM 03.38 basic character set: one septet each (ESC, 0x1B, is left out: it
# only introduces the extension table and is never a character of its own).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: ESC plus the character, two septets each.
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153  # septets; a part loses 7 to the concatenation header
UCS_SINGLE, UCS_PART = 70, 67  # UTF-16 code units; a part loses 3


def count_segments(body: str) -> tuple[str, int]:
    """The encoding `body` needs and how many segments it is sent as.

    An empty body is still one (empty) segment. In a concatenated message a
    GSM escape pair or a UTF-16 surrogate pair is never split across parts,
    so a two-unit character at a part boundary moves whole to the next part.
    """
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in body):
        units = [2 if ch in _GSM_EXTENSION else 1 for ch in body]
        return GSM_7, _parts(units, GSM_SINGLE, GSM_PART)
    # Characters outside the BMP (most emoji) are a surrogate pair in UTF-16.
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return UCS_2, _parts(units, UCS_SINGLE, UCS_PART)


def _parts(units: list[int], single: int, part: int) -> int:
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for width in units:
        if used + width > part:
            parts, used = parts + 1, 0
        used += width
    return parts
