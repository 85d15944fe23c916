"""Finding the final answer in a model response.

Everything here is a linear scan or a linear-time regex over untrusted text:
no backtracking blow-ups, no evaluation. Two extraction rules exist because the
paper uses two graders (see ``protocols.py``):

* the training reward takes the last ``\\boxed{...}`` and nothing else;
* the Qwen2.5-Math evaluation falls back to "the answer is ..." and then to the
  last number in the text.
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def _last_box_command(text: str) -> int:
    """Index just after the last ``\\boxed``/``\\fbox`` command, or -1."""
    best = -1
    for cmd in _BOX_COMMANDS:
        start = len(text)
        while True:
            i = text.rfind(cmd, 0, start)
            if i < 0:
                break
            end = i + len(cmd)
            # \boxedfoo is another command, not a box.
            if end < len(text) and text[end].isalpha():
                start = i
                continue
            best = max(best, end)
            break
    return best


def _match_braces(text: str, open_at: int) -> int | None:
    """Index of the brace closing the one at ``open_at``; None when unclosed."""
    depth = 0
    for i in range(open_at, len(text)):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def extract_boxed(text: str | None) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``. The
    ``\\boxed 5`` form (a space, no braces) gives the text up to the next ``$`` or
    line end, as the reference reward does. Returns None when there is no box or
    the last one is never closed; an empty box gives ``""``.

    >>> extract_boxed(r"so the answer is $\\boxed{12.8}$.")
    '12.8'
    >>> extract_boxed(r"\\boxed{1} then \\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> extract_boxed("no box here") is None
    True
    """
    if not text:
        return None
    end = _last_box_command(text)
    if end < 0:
        return None
    i = end
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        close = _match_braces(text, i)
        if close is None:
            return None
        return text[i + 1 : close]
    if i > end:  # "\boxed 5": up to $ or the line end
        tail = text[i:]
        for stop in ("$", "\n"):
            cut = tail.find(stop)
            if cut >= 0:
                tail = tail[:cut]
        return tail.strip()
    return None


# Qwen2.5-Math's last-number fallback; applied to text with commas removed.
_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")


def extract_answer_train(response: str | None) -> str | None:
    """The training reward's rule: the last box or nothing (empty counts as nothing)."""
    answer = extract_boxed(response)
    if answer is None or not answer.strip():
        return None
    return answer


def extract_answer_eval(response: str | None) -> str | None:
    """The Qwen2.5-Math evaluation's rule (``parser.py::extract_answer``).

    Minerva's "final answer is $...$. I hope" form, else the last box (an
    unclosed last box gives everything after it, as Qwen's parser does), else the
    text after "the answer is" / "final answer is", else the last number.
    """
    if not response:
        return None
    text = response
    if "final answer is $" in text and "$. I hope" in text:
        pred = text.split("final answer is $", 1)[1].split("$. I hope", 1)[0].strip()
    elif _last_box_command(text) >= 0:
        pred = extract_boxed(text)
        if pred is None:  # unclosed: Qwen keeps what follows the brace
            tail = text[_last_box_command(text) :].lstrip()
            pred = tail[1:] if tail.startswith("{") else tail.split("$")[0]
    elif "he answer is" in text:
        pred = text.rsplit("he answer is", 1)[1].strip()
    elif "final answer is" in text:
        pred = text.rsplit("final answer is", 1)[1].strip()
    else:
        numbers = _LAST_NUMBER.findall(text.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    pred = re.sub(r"\n\s*", "", pred).strip()
    if pred.startswith(":"):
        pred = pred[1:].strip()
    if pred.endswith(".") or pred.endswith("/"):
        pred = pred[:-1]
    return pred or None
