"""Header lines of outgoing email, built so that no caller or configured text can make a header line.

The email package decodes RFC 2047 encoded words in the text it is given and
writes the decoded text back out, line breaks included: a subject of
`=?utf-8?q?Hi=0D=0ABcc:_x@example.com?=` became a `Bcc:` line. So text never
goes through its header parser here. Each value is first put on one line
(control characters and line or paragraph separators become a space), then
written as plain words only where no reader could take it for anything else,
and otherwise as base64 encoded words, which carry any text as data.
"""

from __future__ import annotations

import base64
import re
import unicodedata

# RFC 5322 asks for lines of at most 78 characters; folding keeps to that.
_LINE_LENGTH = 78
# 36 bytes of UTF-8 make 48 base64 characters: a 60-character encoded word.
_ENCODED_WORD_BYTES = 36

# A display name is one encoded word (see _phrase); this keeps its line under 998.
MAX_DISPLAY_NAME_BYTES = 700
# Cc (C0, DEL, C1 including NEL U+0085), the line and paragraph separators,
# and lone surrogates: each run becomes one space.
_LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
# Printable ASCII words a reader shows as they are (no encoded-word start `=?`).
_PLAIN_WORD = re.compile(r"[\x21-\x7e]{1,70}")
# RFC 5322 atext: what a display name may hold unquoted.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_ASCII_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
_DOMAIN_LABEL_ASCII = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


class HeaderLine:
    """A header the email package writes exactly as built here.

    Its policy stores any value that has a `name` as it is and asks it to
    `fold` itself, instead of parsing (and decoding) text.
    """

    def __init__(self, name: str, tokens: list[str]):
        self.name = name
        self.tokens = tokens

    def fold(self, *, policy) -> str:
        lines, line = [], f"{self.name}:"
        for token in self.tokens:
            if len(line) + 1 + len(token) > _LINE_LENGTH and line != f"{self.name}:":
                lines.append(line)
                line = ""
            line += f" {token}"
        lines.append(line)
        return policy.linesep.join(lines) + policy.linesep

    def __str__(self) -> str:
        return " ".join(self.tokens)


def one_line(text: str) -> str:
    """`text` with every run of control characters or line separators as one space, trimmed."""
    return _LINE_BREAKERS.sub(" ", text).strip()


def unstructured(name: str, text: str) -> HeaderLine:
    """A header of free text, such as Subject."""
    text = one_line(text)
    words = text.split(" ")
    if all(_PLAIN_WORD.fullmatch(word) for word in words) and "=?" not in text:
        return HeaderLine(name, words)
    return HeaderLine(name, encoded_words(text))


def mailbox(name: str, address: str, display_name: str | None = None) -> HeaderLine:
    """An address header: `address`, after `display_name` when there is one."""
    display_name = display_name_text(display_name or "")
    if not display_name:
        return HeaderLine(name, [address])
    return HeaderLine(name, [*_phrase(display_name), f"<{address}>"])


def _phrase(text: str) -> list[str]:
    """A display name as RFC 5322 words: atoms, else one quoted string, else encoded words."""
    if text.isascii() and text.isprintable() and "=?" not in text:
        words = text.split(" ")
        if all(_ATOM.fullmatch(word) for word in words):
            return words
        return ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']
    # One encoded word, however long the name: in a name, Python's reader
    # (unlike RFC 2047) keeps the space between two encoded words.
    if len(text.encode()) > MAX_DISPLAY_NAME_BYTES:
        raise ValueError(f"a display name is at most {MAX_DISPLAY_NAME_BYTES} bytes of UTF-8")
    return encoded_words(text, MAX_DISPLAY_NAME_BYTES)


def display_name_text(name: str) -> str:
    """The name as readers show it: on one line, each run of whitespace one space (RFC 5322 phrase).

    Any Unicode whitespace counts: Python's reader takes a no-break space
    after a space for folding whitespace too.
    """
    return " ".join(one_line(name).split())


def encoded_words(text: str, word_bytes: int = _ENCODED_WORD_BYTES) -> list[str]:
    """`text` as RFC 2047 base64 encoded words, each whole characters of UTF-8.

    Readers join adjacent encoded words without the space between them, so
    the text comes back exactly; whatever it holds stays inside the word.
    """
    words, chunk = [], b""
    for character in text:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > word_bytes:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words if word]


def address_problem(address: str) -> str | None:
    """Why `address` cannot be written into a header as one plain address, or None.

    Accepts a dot-atom local part and a domain name (non-ASCII allowed, sent
    with SMTPUTF8); refuses quoting, comments, whitespace, separators,
    control characters and `=?` (some readers decode encoded words even in
    an address).
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "needs one local part, an @ and a domain"
    if len(local.encode()) > 64 or len(address.encode()) > 254:
        return "too long"
    if "=?" in address:
        return "contains `=?`"
    if any(not part or not all(_address_character(c) for c in part) for part in local.split(".")):
        return "the local part is not a dot-atom of letters, digits and !#$%&'*+/=?^_`{|}~-"
    if any(not _domain_label(label) for label in domain.split(".")):
        return "the domain is not a dotted name of letters, digits and hyphens"
    return None


def _address_character(character: str) -> bool:
    if character.isascii():
        return character in _ASCII_ATEXT
    return unicodedata.category(character)[0] not in "CZ"  # no controls, formats, spaces, separators


def _domain_label(label: str) -> bool:
    if label.isascii():
        return bool(_DOMAIN_LABEL_ASCII.fullmatch(label)) and len(label) <= 63
    return bool(label) and all(c == "-" or unicodedata.category(c)[0] in "LMN" for c in label)
