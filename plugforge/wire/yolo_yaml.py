"""Ultralytics model YAMLs: insert and remove layer rows by editing lines.

A YOLO model file lists its layers as one-line flow rows under ``backbone:`` and
``head:``, ``- [from, repeats, module, args]  # comment``; Ultralytics numbers
them 0, 1, ... across both lists. A YAML round trip would lose the comments and
the layout, so rows are edited as text: the new row is one new line, and in every
later row only the ``from`` field and a leading ``# N`` index comment change.
Every edit is checked by parsing the result and comparing it with the same edit
made on the parsed lists.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

from .errors import WireError

MARK = "plugforge:"  # the comment of a row plugforge added: ``# plugforge: <id>``
REWIRES = ("all", "next")

_ROW = re.compile(r"^(?P<lead>[ \t]*- \[)(?P<frm>-?\d+|\[[^\[\]]*\])(?P<rest>,.*?\])(?P<tail>[ \t]*(?:#.*)?)$")
_SECTION = re.compile(r"^(backbone|head)\s*:")
_INDEX_COMMENT = re.compile(r"^(#[ \t]*)(\d+)(?!\d)")


@dataclass(frozen=True)
class Row:
    """One layer row as Ultralytics reads it, and where it is in the text."""

    index: int
    line: int  # 0-based line number in the file
    section: str  # "backbone" or "head"
    source: Any  # ``from``: an int or a list of ints
    repeats: Any
    module: str
    args: list
    comment: str  # the trailing comment without its '#', stripped

    @property
    def plugforge_id(self) -> str | None:
        """The block id of a row plugforge added, else None."""
        return self.comment[len(MARK) :].strip() if self.comment.startswith(MARK) else None

    def sources(self) -> list[int]:
        return list(self.source) if isinstance(self.source, list) else [self.source]


@dataclass(frozen=True)
class Edit:
    text: str
    moved: dict[int, int]  # old layer index -> new index, for the layers whose index changed
    inserted: tuple[int, ...]  # indices of the new rows in the new file (add) or of the removed ones (remove)


@functools.lru_cache(maxsize=16)
def load(text: str) -> Any:
    """``yaml.safe_load``, with libyaml's loader where PyYAML has it (cached: never mutate the result)."""
    try:
        import yaml
    except ImportError:
        raise WireError("reading a YOLO model YAML needs PyYAML: pip install pyyaml") from None
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def is_model(text: str) -> bool:
    """Whether the text is an Ultralytics model: ``backbone`` and ``head`` lists of 4-item rows."""
    try:
        data = load(text)
    except Exception:
        return False
    if not isinstance(data, dict):
        return False
    lists = [data.get("backbone"), data.get("head")]
    return all(isinstance(rows, list) for rows in lists) and all(
        isinstance(row, list) and len(row) == 4 for rows in lists for row in rows
    )


def parse(text: str, path: str = "model.yaml") -> list[Row]:
    """The rows of the model, in Ultralytics' order; an error when a row is not on one line."""
    if not is_model(text):
        raise WireError(
            f"{path} is not an Ultralytics model YAML "
            "(no `backbone:` and `head:` lists of [from, repeats, module, args] rows)"
        )
    data = load(text)
    found: dict[str, list[tuple[int, re.Match]]] = {"backbone": [], "head": []}
    section = None
    for number, line in enumerate(text.splitlines()):
        if heading := _SECTION.match(line):
            section = heading.group(1)
        elif line[:1].strip() and not line.startswith("#"):
            section = None  # another top-level key
        elif section and (match := _ROW.match(line)):
            found[section].append((number, match))
        elif section and line.lstrip().startswith("-"):
            raise WireError(
                f"{path}:{number + 1}: plugforge edits rows written on one line as `- [from, repeats, module, args]`; "
                "write this row that way"
            )
    rows = []
    for section in ("backbone", "head"):
        if len(found[section]) != len(data[section]):
            raise WireError(
                f"{path}: plugforge reads {len(found[section])} one-line rows under `{section}:` where YAML reads "
                f"{len(data[section])}; write each row on one line as `- [from, repeats, module, args]`"
            )
        for (number, match), value in zip(found[section], data[section]):
            if [int(n) for n in re.findall(r"-?\d+", match["frm"])] != (
                [*value[0]] if isinstance(value[0], list) else [value[0]]
            ):
                raise WireError(
                    f"{path}:{number + 1}: cannot read this row's `from` field; write it as an index or a list of indices"
                )
            comment = match["tail"].strip().lstrip("#").strip()
            rows.append(Row(len(rows), number, section, *value, comment))
    return rows


def insert(
    text: str, anchors: list[int], row_text: str | dict[int, str], rewire: str = "all", path: str = "model.yaml"
) -> Edit:
    """Insert ``row_text`` (``[from, repeats, module, args] # comment``, or one per anchor) after each anchor index.

    Anchors are indices of the original file. In every later row, absolute
    ``from`` indices past the anchor move by one; those equal to it read the new
    row with ``rewire="all"`` and keep the anchor with ``"next"``; relative ones
    other than -1 keep their target. ``# N`` index comments follow.
    """
    if rewire not in REWIRES:
        raise WireError(f"⟨rewire⟩ is one of {', '.join(REWIRES)}, not {rewire!r}")
    rows = parse(text, path)
    for anchor in anchors:
        check_anchor(rows, anchor, path)
    for anchor in sorted(set(anchors), reverse=True):  # the later rows first: each anchor keeps its index
        new_row = row_text[anchor] if isinstance(row_text, dict) else row_text
        text = _insert_one(text, rows, anchor, new_row, rewire)
        rows = parse(text, path)
    moved, inserted, shift = {}, [], 0
    total = len(rows) - len(set(anchors))
    for old in range(total):
        new = old + shift
        if new != old:
            moved[old] = new
        if old in anchors:
            shift += 1
            inserted.append(new + 1)
    return Edit(text, moved, tuple(inserted))


def remove(text: str, block_id: str, path: str = "model.yaml") -> Edit:
    """Remove every row plugforge added for ``block_id``, inverting `insert` (the original bytes come back)."""
    rows = parse(text, path)
    targets = [r.index for r in rows if r.plugforge_id == block_id]
    if not targets:
        ids = sorted({r.plugforge_id for r in rows if r.plugforge_id})
        hint = f"; it has rows for: {', '.join(ids)}" if ids else ""
        raise WireError(f"{path} has no row added by plugforge for {block_id}{hint}")
    removed = []
    for count, index in enumerate(targets):  # each earlier removal moved the later rows up by one
        text = _remove_one(text, rows, index - count)
        rows = parse(text, path)
        removed.append(index)
    kept = [i for i in range(len(rows) + len(targets)) if i not in targets]
    moved = {old: new for new, old in enumerate(kept) if old != new}
    return Edit(text, moved, tuple(removed))


def check_anchor(rows: list[Row], anchor: int, path: str) -> None:
    if not 0 <= anchor < len(rows):
        raise WireError(f"{path} has layers 0..{len(rows) - 1}; ⟨after⟩ {anchor} is not one of them")
    if anchor == len(rows) - 1:
        raise WireError(
            f"layer {anchor} ({rows[anchor].module}) is the model's last row, its output head; "
            f"insert before it, e.g. after one of its inputs {rows[anchor].sources()}"
        )


def _insert_one(text: str, rows: list[Row], anchor: int, row_text: str, rewire: str) -> str:
    lines = text.splitlines(keepends=True)
    anchor_row = rows[anchor]
    lead = _ROW.match(lines[anchor_row.line].rstrip("\r\n"))["lead"]
    newline = _newline(lines[anchor_row.line])
    for row in rows[anchor + 1 :]:
        lines[row.line] = _renumbered(
            lines[row.line], row.index, row.index + 1, lambda t: _shift_target(t, anchor, rewire), _indexed(rows)
        )
    new_line = lead[:-1] + row_text + newline
    lines.insert(anchor_row.line + 1, new_line)
    edited = "".join(lines)
    new_row = _row_value(_ROW.match(new_line.rstrip("\r\n")))
    _verify(text, edited, lambda layers, split: _intended_insert(layers, split, anchor, rewire, new_row))
    return edited


def _remove_one(text: str, rows: list[Row], index: int) -> str:
    lines = text.splitlines(keepends=True)
    for row in rows[index + 1 :]:
        lines[row.line] = _renumbered(
            lines[row.line], row.index, row.index - 1, lambda t: t - 1 if t >= index else t, _indexed(rows)
        )
    removed = lines.pop(rows[index].line).rstrip("\r\n")
    edited = "".join(lines)
    _verify(text, edited, lambda layers, split: _intended_remove(layers, split, index))
    row_text = removed[len(_ROW.match(removed)["lead"]) - 1 :]  # "[...] # plugforge: id", as insert takes it
    edited_rows = parse(edited)
    if all(_insert_one(edited, edited_rows, index - 1, row_text, rewire) != text for rewire in REWIRES):
        raise WireError(
            f"removing layer {index} would not give back what `⟨add⟩` started from (its rows or "
            "comments were edited since); remove the row by hand"
        )
    return edited


def _indexed(rows: list[Row]) -> bool:
    """Whether every numbered comment is its row's index: only then do the numbers follow the rows.

    A file with stale numbers keeps them, so that `remove` can always give back the original bytes.
    """
    numbers = [(row.index, _INDEX_COMMENT.match("#" + row.comment)) for row in rows]
    return all(int(match.group(2)) == index for index, match in numbers if match)


def _shift_target(target: int, anchor: int, rewire: str) -> int:
    return target + 1 if target > anchor or (target == anchor and rewire == "all") else target


def _renumbered(line: str, old: int, new: int, retarget, comments: bool) -> str:
    """The row line with its ``from`` retargeted (the row moves from ``old`` to ``new``) and its index comment."""
    eol = line[len(line.rstrip("\r\n")) :]
    match = _ROW.match(line.rstrip("\r\n"))

    def one(number: re.Match) -> str:
        value = int(number.group())
        if value == -1:
            return number.group()
        if value >= 0:
            return str(retarget(value))
        return str(retarget(old + value) - new)

    frm = re.sub(r"-?\d+", one, match["frm"])
    tail = match["tail"]
    stripped = tail.lstrip()
    comment = _INDEX_COMMENT.match(stripped)
    if comments and comment and int(comment.group(2)) == old:
        stripped = comment.group(1) + str(new) + stripped[comment.end() :]
        tail = tail[: len(tail) - len(tail.lstrip())] + stripped
    return match["lead"] + frm + match["rest"] + tail + eol


def _row_value(match: re.Match) -> Any:
    try:
        return load("[" + match["frm"] + match["rest"])
    except Exception:
        return None


def _newline(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] or "\n"


def _verify(before: str, after: str, intended) -> None:
    """The line edit must equal the intended edit of the parsed lists (a bug here must never write a file)."""
    want = copy.deepcopy(load(before))
    layers = want["backbone"] + want["head"]
    layers, split = intended(layers, len(want["backbone"]))
    want["backbone"], want["head"] = layers[:split], layers[split:]
    if load(after) != want:
        raise WireError("internal error: the line edit does not match the intended YAML edit; no file was written")


def _retarget_all(layers: list, start: int, retarget, moved_by: int) -> None:
    for position in range(start, len(layers)):
        old = position - moved_by

        def one(value: int) -> int:
            if value == -1:
                return -1
            return retarget(value) if value >= 0 else retarget(old + value) - position

        frm = layers[position][0]
        layers[position][0] = [one(v) for v in frm] if isinstance(frm, list) else one(frm)


def _intended_insert(layers: list, split: int, anchor: int, rewire: str, new_row: list) -> tuple[list, int]:
    layers = layers[: anchor + 1] + [new_row] + layers[anchor + 1 :]
    _retarget_all(layers, anchor + 2, lambda t: _shift_target(t, anchor, rewire), 1)
    return layers, split + (anchor < split)


def _intended_remove(layers: list, split: int, index: int) -> tuple[list, int]:
    layers = layers[:index] + layers[index + 1 :]
    _retarget_all(layers, index, lambda t: t - 1 if t >= index else t, -1)
    return layers, split - (index < split)


def row_text(module: str, args: list[Any], block_id: str) -> str:
    """The new row, ``[-1, 1, Module, [args]]  # plugforge: id``, in Ultralytics' flow style."""
    return f"[-1, 1, {module}, [{', '.join(_flow(a) for a in args)}]] # {MARK} {block_id}"


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(_flow(v) for v in value)}]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
