"""Line-based three-way merge (diff3), as ``git merge-file --diff3`` does it.

A base line is *stable* when both mine and theirs keep it (each side is diffed against
base with difflib). Between consecutive stable lines lies an unstable chunk: if only one
side changed it, that side wins; if both made the same change, it is taken once; else it
is a conflict, written with markers. Edits that touch without a stable line between conflict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher

_LINE = re.compile(r"[^\n]*\n|[^\n]+")


@dataclass(frozen=True)
class Merged:
    """The merged text and how many conflict regions it holds."""

    text: str
    conflicts: int  # number of conflict regions written with markers


def merge3(
    base: str,
    mine: str,
    theirs: str,
    *,
    labels: tuple[str, str, str] = ("yours", "base", "catalog"),
) -> Merged:
    """Merge the changes base→mine and base→theirs; overlapping ones become conflicts.

    Every line is copied byte for byte (CRLF, a missing final newline); marker lines
    use mine's line ending.
    """
    b, m, t = _lines(base), _lines(mine), _lines(theirs)
    nl = _newline(mine, theirs, base)
    out: list[str] = []
    conflicts = 0
    for (bc, mc, tc), stable in _chunks(b, m, t):
        if mc == tc or tc == bc:  # only mine changed, or both the same way
            out += mc
        elif mc == bc:  # only theirs changed
            out += tc
        else:
            out += _conflict(mc, bc, tc, labels, nl)
            conflicts += 1
        out += stable
    return Merged("".join(out), conflicts)


def _lines(text: str) -> list[str]:
    """Lines with their endings. Only "\\n" ends a line: "\\r\\n" stays one line, "\\f" is text."""
    return _LINE.findall(text)


def _newline(*texts: str) -> str:
    """The line ending of the first text that has one: mine's, unless mine has none."""
    text = next((text for text in texts if "\n" in text), "")
    return "\r\n" if text.partition("\n")[0].endswith("\r") else "\n"


def _matches(a: list[str], b: list[str]) -> dict[int, int]:
    """Map each line of ``a`` that the diff keeps to its index in ``b``."""
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return {i + n: j + n for i, j, size in blocks for n in range(size)}


Chunk = tuple[list[str], list[str], list[str]]


def _chunks(b: list[str], m: list[str], t: list[str]) -> Iterator[tuple[Chunk, list[str]]]:
    """Yield each unstable chunk (base, mine, theirs) with the stable line after it."""
    in_mine, in_theirs = _matches(b, m), _matches(b, t)
    stable = [(i, in_mine[i], in_theirs[i]) for i in sorted(in_mine.keys() & in_theirs.keys())]
    i = j = k = 0
    for si, sj, sk in [*stable, (len(b), len(m), len(t))]:  # a sentinel flushes the tail
        yield (b[i:si], m[j:sj], t[k:sk]), m[sj : sj + 1]
        i, j, k = si + 1, sj + 1, sk + 1


def _conflict(
    mine: list[str], base: list[str], theirs: list[str], labels: tuple[str, str, str], nl: str
) -> list[str]:
    """One conflict region in diff3 style, every marker at the start of its own line."""
    yours, original, catalog = labels
    return [
        f"<<<<<<< {yours}{nl}",
        *_terminated(mine, nl),
        f"||||||| {original}{nl}",
        *_terminated(base, nl),
        f"======={nl}",
        *_terminated(theirs, nl),
        f">>>>>>> {catalog}{nl}",
    ]


def _terminated(lines: list[str], nl: str) -> list[str]:
    """``lines``, with a line ending added to the last one if it lacks it (end of file)."""
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + nl]
    return lines
