import pytest

from common.sms_segments import count_segments

EMOJI = "\N{GRINNING FACE}"  # outside the BMP: two UTF-16 code units

CASES = {
    "empty body is one empty segment": ("", "GSM-7", 1),
    "short ascii": ("Your code is 123456", "GSM-7", 1),
    "exactly 160 gsm chars": ("a" * 160, "GSM-7", 1),
    "161 gsm chars": ("a" * 161, "GSM-7", 2),
    "306 gsm chars fill two parts": ("a" * 306, "GSM-7", 2),
    "307 gsm chars": ("a" * 307, "GSM-7", 3),
    "gsm accents and greek are basic": ("àéñÄΩ£¥§¿" * 16, "GSM-7", 1),
    "euro fits as the 159th and 160th septet": ("a" * 158 + "€", "GSM-7", 1),
    "euro pushes 159 chars over the single limit": ("a" * 159 + "€", "GSM-7", 2),
    "every extension char counts double": ("[]{}\\^~|€\f" * 8, "GSM-7", 1),
    "81 extension chars are 162 septets": ("[" * 81, "GSM-7", 2),
    # 152 + 2 would be 154 > 153: the escape pair moves whole to part two.
    "euro at a part boundary is not split": ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
    "exactly 70 ucs-2 chars": ("ж" * 70, "UCS-2", 1),
    "71 ucs-2 chars": ("ж" * 71, "UCS-2", 2),
    "134 ucs-2 chars fill two parts": ("ж" * 134, "UCS-2", 2),
    "one non-gsm char turns the whole body ucs-2": ("a" * 69 + "ж", "UCS-2", 1),
    "emoji fits as the 69th and 70th unit": ("a" * 68 + EMOJI, "UCS-2", 1),
    "emoji pushes 69 chars over the single limit": ("a" * 69 + EMOJI, "UCS-2", 2),
    # 66 + 2 would be 68 > 67: the surrogate pair moves whole to part two.
    "emoji at a part boundary is not split": ("a" * 66 + EMOJI + "a" * 66, "UCS-2", 3),
    "35 emoji are 70 code units": (EMOJI * 35, "UCS-2", 1),
    "36 emoji are 72 code units": (EMOJI * 36, "UCS-2", 2),
    "curly quotes are not gsm": ("\N{LEFT DOUBLE QUOTATION MARK}hi\N{RIGHT DOUBLE QUOTATION MARK}", "UCS-2", 1),
    "escape itself is not a gsm character": ("\x1b", "UCS-2", 1),
}


@pytest.mark.parametrize(("body", "encoding", "segments"), CASES.values(), ids=CASES.keys())
def test_count_segments(body, encoding, segments):
    assert count_segments(body) == (encoding, segments)
