"""String normalisation of final answers.

Folds the notational variants that the paper's graders treat as equal (the
reference reward's Hendrycks-MATH and PRM800K normalisers, the Qwen2.5-Math
evaluation's ``strip_string``): ``\\left``/``\\right``, ``\\dfrac``, units and
``\\text{}``, degrees, percent and dollar signs, thousands separators, ``x =``
prefixes, ``\\frac12``, mixed numbers written ``22 1/2``, multiple-choice
parentheses, spelled-out small numbers.

Pure string work with simple, linear-time regexes; nothing is evaluated.
Answers longer than ``MAX_ANSWER_CHARS`` are not normalised at all (no real
final answer is that long; the graders then only accept an exact match).
"""

from __future__ import annotations

import re

MAX_ANSWER_CHARS = 1000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])")
_SPACING = re.compile(r"\\[!,;: ]|\\q?quad(?![A-Za-z])|~")
_TEXT_CMDS = re.compile(r"\\(?:mbox|textbf|textrm|textit|textup|textnormal|mathrm|mathbf|mathit|text)\s*\{")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])")
_UNIT_WORDS = (
    r"(?:square\s+|sq\.?\s+|cubic\s+)?"
    r"(?:units?|cm|mm|km|meters?|metres?|centimeters?|millimeters?|kilometers?|inch(?:es)?|"
    r"feet|foot|ft|yards?|miles?|mph|seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|"
    r"degrees?|radians?|dollars?|cents?|pounds?|ounces?|grams?|kg|kilograms?|liters?|litres?|ml|"
    r"gallons?|cups?|people|persons?|students?|ways|times|points?|percent|sq)"
)
# Any trailing \text{ ...} whose text starts with a space is a unit ("20 \text{ J}"): PRM800K's
# math_normalize.py (_remove_right_units) cuts at "\text{ ", and Qwen2.5-Math's parser.py
# (strip_string) drops a trailing \text{...} whatever it holds, so both reference graders agree.
_TRAILING_SPACED_TEXT = re.compile(r"(?<=\S)\s*\\text\{\s[^{}]*\}(?:\^\{?\d\}?)?$")
# A unit word (or \text{unit}) trailing a number or a closing brace.
_TRAILING_TEXT_UNIT = re.compile(r"(?<=[\d}\s])\s*\\text\{\s*" + _UNIT_WORDS + r"\s*\}(?:\^\{?\d\}?)?\s*$")
_TRAILING_UNIT = re.compile(r"(?<=[\d}])\s*" + _UNIT_WORDS + r"(?:\^\{?\d\}?)?\.?\s*$", re.IGNORECASE)
_TEXT_ARG = re.compile(r"\\text\{([^{}]*)\}")
_MIXED_SPACED = re.compile(r"^(-?\d+)\s+(\d+)\s*/\s*(\d+)$")
_THOUSANDS_BRACED = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PREFIX_EQ = re.compile(r"^(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\[A-Za-z]+)(?:\([A-Za-z]\))?=(?!=)")
_PREFIX_IN = re.compile(r"^[A-Za-z]\\in(?![A-Za-z])")
_FRAC_SHORT = (
    (re.compile(r"\\frac(\d)(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac(\d)\{"), r"\\frac{\1}{"),
    (re.compile(r"\\frac\{([^{}]*)\}(\d)"), r"\\frac{\1}{\2}"),
)
_SQRT_SHORT = re.compile(r"\\sqrt(\d+|[A-Za-z](?![A-Za-z]))")
_CHOICE = re.compile(r"^\(([A-Ea-e])\)$")
# PRM800K's grader.py (_normalize), in the training reward: "a or b", "a and b" list answers.
_OR_AND = re.compile(r"\s(?:or|and)\s")
_WORD_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_INFINITY = re.compile(r"^(-?)(?:infinity|inf|\\infty|∞)$", re.IGNORECASE)


def _unwrap_text(s: str) -> str:
    # \text{ (A) } -> (A); applied until no simple \text{...} is left.
    s = _TEXT_CMDS.sub(r"\\text{", s)
    for _ in range(8):
        new = _TEXT_ARG.sub(r"\1", s)
        if new == s:
            break
        s = new
    return s


def normalize_answer(answer: str, protocol: str | None = None) -> str:
    """Canonical compact form of a final answer, for string and number comparison.

    ``protocol="train"`` adds what only the training reward's normaliser does
    (``a or b`` is the list ``a,b``); the default is what both protocols share.

    >>> normalize_answer(r"\\$1,000")
    '1000'
    >>> normalize_answer(r"x = \\dfrac{1}{2}")
    '\\\\frac{1}{2}'
    >>> normalize_answer(r"30^\\circ")
    '30'
    >>> normalize_answer(r"12 \\text{ cm}^2")
    '12'
    >>> normalize_answer(r"20 \\text{ J}")
    '20'
    """
    s = answer
    if len(s) > MAX_ANSWER_CHARS:
        return s.strip()
    s = _CONTROL.sub("", s).replace("\n", " ").replace("\t", " ").strip()
    s = s.strip("$").strip()
    s = s.replace("\\displaystyle", "")
    s = _LEFT_RIGHT.sub("", s)
    s = _SPACING.sub(" ", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _DEGREES.sub("", s)
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\%", "").replace("%", "")
    s = _TEXT_CMDS.sub(r"\\text{", s)
    s = _TRAILING_SPACED_TEXT.sub("", s)
    s = _TRAILING_TEXT_UNIT.sub("", s).strip()
    s = _unwrap_text(s).strip()
    s = _TRAILING_UNIT.sub("", s).strip()
    if protocol == "train":
        s = _OR_AND.sub(",", s)
    m = _MIXED_SPACED.match(s)
    if m:  # "22 1/2" is a mixed number; keep it one after spaces go
        s = f"{m.group(1)}\\frac{{{m.group(2)}}}{{{m.group(3)}}}"
    s = re.sub(r"\s+", "", s)
    s = s.rstrip(".").lstrip(":")
    s = _THOUSANDS_BRACED.sub("", s)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = _PREFIX_EQ.sub("", s, count=1) if s.count("=") == 1 else s
    s = _PREFIX_IN.sub("", s, count=1)
    for pattern, repl in _FRAC_SHORT:
        s = pattern.sub(repl, s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = s.replace("\\{", "{").replace("\\}", "}")
    m = _CHOICE.match(s)
    if m:
        s = m.group(1).upper()
    if s.lower() in _WORD_NUMBERS:
        s = _WORD_NUMBERS[s.lower()]
    m = _INFINITY.match(s)
    if m:
        s = m.group(1) + "\\infty"
    if s.startswith("+") and len(s) > 1:
        s = s[1:]
    return s
