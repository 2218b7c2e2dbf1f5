"""`diff` and `update`: compare a rendered file with its pristine render, merge catalog changes.

Three texts are involved. The *base* is the pristine render the file started
from (kept in ``.plugforge/``, or rendered again when the catalog still gives
the same bytes). *Yours* is the file as it is now. The *catalog* text is what
the current catalog renders for the same parameters. ``update`` merges the
catalog's changes into yours, so an edit of yours is never lost: where both
changed the same lines, the file gets conflict markers.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from plugforge import __version__, files, project
from plugforge.catalog.spec import find
from plugforge.errors import PlugforgeError
from plugforge.rendering import provenance
from plugforge.rendering.merge import merge3
from plugforge.rendering.provenance import Provenance

_SKIPPED_DIRS = {"site-packages", "node_modules", "__pycache__"}


@dataclass
class Report:
    messages: list[str] = field(default_factory=list)
    conflicted: list[Path] = field(default_factory=list)
    diff: str = ""


def diff(path: Path, upstream: bool = False) -> str:
    """Your edits against the pristine render; with ``upstream``, what the catalog would change."""
    text, header = _read_rendered(path)
    base, shown = pristine(path, header), project.display(path)
    if upstream:
        return _unified(base, catalog_render(header), f"{shown} (pristine)", f"{shown} (catalog now)")
    return _unified(base, text, f"{shown} (pristine)", f"{shown} (yours)")


def update(paths: list[Path], dry_run: bool = False) -> Report:
    """Merge the current catalog's render into each file; every file is written, or none."""
    with files.locked([*paths, *(path.parent for path in paths)]):  # the folder: what `add` and `vendor` lock
        return _update(paths, dry_run)


def _update(paths: list[Path], dry_run: bool) -> Report:
    report, changes = Report(), {}
    for path in paths:
        text, header = _read_rendered(path)
        base, theirs = pristine(path, header), catalog_render(header)
        if theirs == base:
            report.messages.append(f"{project.display(path)}: up to date")
            if provenance.stored_base(path, header) is None:
                changes[provenance.base_path(path)] = base
            continue
        if text == base:
            merged, note = theirs, "updated (you had not edited it)"
        else:
            result = merge3(base, text, theirs)
            merged = result.text
            note = f"merged; your edits are kept{f', {result.conflicts} conflict(s) marked' if result.conflicts else ''}"
            if result.conflicts:
                report.conflicted.append(path)
        report.messages.append(f"{project.display(path)}: {note}")
        changes[path] = merged
        changes[provenance.base_path(path)] = theirs
    written = project.write_all(changes, dry_run, conflicted=report.conflicted)
    report.diff = written if dry_run else ""
    return report


def rendered_files(root: Path) -> list[Path]:
    """Every file under ``root`` that carries a plugforge header (virtual envs and hidden folders skipped)."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if _searched(Path(directory, d)))
        for name in sorted(files):
            path = Path(directory, name)
            if name.endswith(".py") and provenance.read_path(path):
                found.append(path)
    return found


def pristine(path: Path, header: Provenance) -> str:
    """The render ``path`` started from: the kept copy, or the same render made again."""
    stored = provenance.stored_base(path, header)
    if stored is not None:
        return stored
    if header.version == __version__:
        fresh = catalog_render(header)
        if provenance.read(fresh).sha256 == header.sha256:
            return fresh
    raise PlugforgeError(
        f"{path}: its pristine render is gone ({provenance.base_path(path)} is missing or does not match the "
        f"header) and plugforge {__version__} cannot render it again as plugforge {header.version} did (the "
        "catalog changed since, or the header's first line was edited); restore both files from version "
        "control, or re-render the block with `plugforge new ... --force`"
    )


def catalog_render(header: Provenance) -> str:
    """What the current catalog renders for the header's entry and parameters (or helper templates)."""
    from plugforge.rendering.render import render, render_helpers  # Jinja and black: only when a render is needed

    if header.helpers:
        return render_helpers(list(header.helpers))
    spec = find(header.block_id)
    values = spec.defaults()
    values.update({name: value for name, value in header.params.items() if name in spec.params})
    for name, value in values.items():
        spec.params[name].check(value)
    spec.check_relations(values)
    rendered = render(spec, values, header.tests, header.packaged, header.tests_import)
    return rendered.tests if header.tests else rendered.block


def _read_rendered(path: Path) -> tuple[str, Provenance]:
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise PlugforgeError(f"{path} does not exist") from None
    except UnicodeDecodeError as error:
        raise PlugforgeError(
            f"{path} is not UTF-8 text ({error.reason} at byte {error.start}), so it is not a file plugforge "
            "rendered as it is now; save it as UTF-8 (or restore it from version control) and run again"
        ) from None
    except OSError as error:
        raise PlugforgeError(f"cannot read {path}: {error.strerror}; check its permissions") from None
    header = provenance.read(text)
    if header is None:
        raise PlugforgeError(
            f"{path} has no plugforge header, so there is nothing to compare it with; "
            "only files rendered by plugforge 0.1.0 or later (first two lines intact) can be diffed or updated"
        )
    _check_header(path, text, header)
    return text, header


def _check_header(path: Path, text: str, header: Provenance) -> None:
    """The header must be the one the kept pristine render carries: it records how the file was made.

    An edited header (a parameter changed by hand) would make `update` render another
    configuration and call the difference a conflict, so it is an error that says what
    changed and how to restore it.
    """
    try:
        base = provenance.base_path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return  # no kept render: `pristine` renders the header's configuration and checks it against the hash
    original = provenance.read(base)
    if original is None or not provenance.is_pristine(base):
        return
    kept, yours = _header_lines(base), _header_lines(text)
    if kept == yours:
        return
    changes = "; ".join(_header_changes(original, header)) or "the header lines were edited"
    hint = ""
    if header.block_id == original.block_id and header.params != original.params:
        sets = " ".join(f"--set {k}={_shown_value(v)}" for k, v in header.params.items() if original.params.get(k) != v)
        hint = (
            f" To change a parameter, pass it where the block is constructed, or render the block again with "
            f"`plugforge new {header.block_id} {sets} --force`."
        )
    raise PlugforgeError(
        f"{project.display(path)}: its header was edited ({changes}), so its recorded hash no longer verifies; "
        f"the header records how the file was rendered. Restore the first two lines to\n{kept[0]}\n{kept[1]}\n"
        f"(they are in {project.display(provenance.base_path(path))}).{hint}"
    )


def _header_lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n", 2)[:2]]


def _header_changes(original: Provenance, header: Provenance) -> list[str]:
    changes = []
    for name in dict.fromkeys([*original.params, *header.params]):
        before, after = original.params.get(name, "(unset)"), header.params.get(name, "(unset)")
        if before != after:
            changes.append(f"{name} {_shown_value(before)} -> {_shown_value(after)}")
    for label, before, after in (
        ("catalog entry", original.block_id, header.block_id),
        ("plugforge version", original.version, header.version),
        ("recorded sha256", original.sha256, header.sha256),
    ):
        if before != after:
            changes.append(f"{label} {before} -> {after}")
    return changes


def _shown_value(value: object) -> str:
    """A header value as ``--set`` takes it: ``3,5``, ``true``, ``8``."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _searched(directory: Path) -> bool:
    """Not hidden, not a virtual env or installed packages."""
    name = directory.name
    return not name.startswith(".") and name not in _SKIPPED_DIRS and not (directory / "pyvenv.cfg").is_file()


def _unified(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_label, new_label)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
