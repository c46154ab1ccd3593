"""Canonical final answers of text responses, for voting and accuracy.

`extract_answer` reads the last ``\\boxed{...}`` of a response (nested braces allowed) and
canonicalises it with `canonical`, so that ``\\boxed{ 4.0 }``, ``\\boxed{$4$}`` and
``\\boxed{4}`` vote together. Pass your own `answer_fn` to the algorithms for other formats.
"""

import re

__all__ = ["canonical", "extract_answer", "last_boxed"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` in `text` (balanced braces), or None."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i]
    return None


def canonical(answer: str) -> str:
    """Light normalisation: spaces, ``$``, ``\\left``/``\\right``, ``dfrac``, numbers."""
    a = answer.strip().strip("$").strip()
    a = a.replace("\\left", "").replace("\\right", "").replace("\\!", "")
    a = a.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    a = re.sub(r"\s+", "", a).rstrip(".")
    try:
        x = float(a.replace(",", "")) if re.fullmatch(r"[-+]?[\d,]*\.?\d+", a) else None
    except ValueError:
        x = None
    if x is not None:
        a = str(int(x)) if x == int(x) else repr(x)
    return a


def extract_answer(text: str) -> str | None:
    """Canonical content of the last ``\\boxed{}`` of a response, or None if there is none.

    Examples:
        >>> llm.extract_answer(r"so x = 3 and \\boxed{\\frac{1}{2}}, finally \\boxed{ 42 }")
        '42'
        >>> llm.extract_answer("no boxed answer") is None
        True
    """
    boxed = last_boxed(text)
    return None if boxed is None else canonical(boxed)
