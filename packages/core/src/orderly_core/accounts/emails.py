"""How an email address is compared: one written form per mailbox, and no look-alikes.

Two addresses that look the same name the same account, and an address made to look like
another is refused, following the practice for internationalised addresses (RFC 6530,
PRECIS RFC 8264/8265, UTS #39 "highly restrictive" script mixing):

- compatibility forms are folded (NFKC: fullwidth letters, ligatures, superscripts) and letters
  lower-cased, then composed again (NFC);
- invisible and control characters are refused: format characters (``Cf``: soft hyphen,
  zero-width joiners, direction marks), controls, unassigned and private-use code points;
- outside ASCII only letters, combining marks and digits are allowed (no look-alike dots,
  dashes or spaces), and a combining mark left over on a Latin, Greek or Cyrillic letter
  (``İ`` lower-cases to ``i`` and a combining dot) is refused: those scripts compose
  every accented letter they use;
- the local part, and each label of the domain, is written in one script (a Cyrillic ``a``
  among Latin letters is refused). Han may be mixed with Hiragana and Katakana, with
  Hangul or with Bopomofo, and these with Latin, as their writing systems do;
- the domain is kept in its ASCII form (IDNA: ``bücher.de`` is ``xn--bcher-kva.de``), so
  both spellings of a domain are one; a label already in ``xn--`` form is checked as the
  letters it encodes.

The script of a letter is the first word of its Unicode name (``LATIN SMALL LETTER A``,
``CYRILLIC SMALL LETTER A``); the standard library has no script property, and no library
for it is worth a dependency here.
"""

from __future__ import annotations

import re
import unicodedata

LABEL_MAX = 63
_ACE = "xn--"
# ASCII stays as lenient as it always was (any visible character but '@'), so that every
# account made before these rules still signs in; the rules below are for the rest.
_ASCII_LOCAL = re.compile(r"[!-?A-~]+")
_ASCII_LABEL = re.compile(r"[!-?A-~]+")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_COMPOSING_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})
_SCRIPT_ALIASES = {"CJK": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "ARABIC-INDIC": "ARABIC"}
# The scripts one name may mix (UTS #39, "highly restrictive"), besides any one alone.
_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
)


def _script(char: str) -> str | None:
    """The script of a letter or a digit; ``None`` for ASCII digits and combining marks,
    which belong to every script."""
    if unicodedata.category(char).startswith("M") or (char.isascii() and char.isdigit()):
        return None
    first = unicodedata.name(char, "UNKNOWN").split()[0]
    if first == "EXTENDED":  # EXTENDED ARABIC-INDIC DIGIT ...
        first = unicodedata.name(char).split()[1]
    return _SCRIPT_ALIASES.get(first, first)


def _one_script(text: str) -> bool:
    scripts = {script for char in text if (script := _script(char)) is not None}
    return len(scripts) <= 1 or any(scripts <= mix for mix in _MIXES)


def _stray_mark(text: str) -> bool:
    """Whether a combining mark sits on a Latin, Greek or Cyrillic letter after NFC."""
    previous = None
    for char in text:
        if unicodedata.category(char).startswith("M"):
            if previous is not None and _script(previous) in _COMPOSING_SCRIPTS:
                return True
        else:
            previous = char
    return False


def _unicode_part_allowed(text: str) -> bool:
    """Letters, marks and digits outside ASCII, one script, no stray mark."""
    for char in text:
        if not char.isascii() and unicodedata.category(char)[0] not in "LMN":
            return False
        if unicodedata.category(char) in ("Nl", "No"):
            return False
    return _one_script(text) and not _stray_mark(text)


def folded(text: str) -> str | None:
    """``text`` folded to its compared form (NFKC, lower case, NFC), or ``None`` when it
    holds an invisible or control character."""
    if any(unicodedata.category(char) in _INVISIBLE for char in text):
        return None
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).lower())
    if any(unicodedata.category(char) in _INVISIBLE for char in text):
        return None
    return text


def local_part(text: str) -> str | None:
    """The compared form of a folded local part, or ``None`` if it is not allowed."""
    if not text or text.isascii():
        return text if _ASCII_LOCAL.fullmatch(text) else None
    ascii_ok = all(_ASCII_LOCAL.fullmatch(char) for char in text if char.isascii())
    return text if ascii_ok and _unicode_part_allowed(text) else None


def _encoded_label(text: str) -> str | None:
    """A label written as an A-label, if the letters it encodes make an allowed label that
    encodes back to it."""
    try:
        decoded = text[len(_ACE) :].encode("ascii").decode("punycode")
    except UnicodeError:
        return None
    label = folded(decoded)
    if label is None or label.isascii():
        return None
    return text if _unicode_label(label) == text else None


def _unicode_label(text: str) -> str | None:
    """A label outside ASCII as its A-label: letters, marks and digits of one script, ASCII
    letters, digits and inner hyphens."""
    if text.startswith("-") or text.endswith("-") or not _unicode_part_allowed(text):
        return None
    ascii_chars = (char for char in text if char.isascii())
    if not all(char.isalnum() or char == "-" for char in ascii_chars):
        return None
    encoded = _ACE + text.encode("punycode").decode("ascii")
    return encoded if len(encoded) <= LABEL_MAX else None


def _label(text: str) -> str | None:
    """One label of a folded domain in ASCII (an A-label), or ``None`` if not allowed."""
    if text.startswith(_ACE):
        return _encoded_label(text)
    if text.isascii():
        return text if len(text) <= LABEL_MAX and _ASCII_LABEL.fullmatch(text) else None
    return _unicode_label(text)


def domain(text: str) -> str | None:
    """A folded domain in ASCII (IDNA A-labels), or ``None`` if it is not allowed."""
    labels = [_label(label) for label in text.split(".")]
    if len(labels) < 2 or any(label is None for label in labels):
        return None
    return ".".join(label for label in labels if label is not None)
