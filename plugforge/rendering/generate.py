"""`plugforge new` and `vendor`: render entries into files, never clobbering a user's edits."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugforge.catalog.spec import BlockSpec, find
from plugforge.errors import FileConflictError
from plugforge.files import locked
from plugforge.project import write_all
from plugforge.rendering import provenance
from plugforge.rendering.render import render, render_helpers


@dataclass(frozen=True)
class Written:
    path: Path
    status: str  # "created", "overwritten", "unchanged" or "kept" (your edited file already has what is needed)


def new_block(spec: BlockSpec, values: dict[str, Any], out_dir: Path, with_tests: bool, force: bool) -> list[Written]:
    """Write ``<module>.py`` (and ``test_<module>.py``) into ``out_dir``.

    Every target is checked before any is written, so a conflict changes nothing.
    """
    rendered = render(spec, values, with_tests=with_tests)
    files = {out_dir / f"{spec.module}.py": rendered.block}
    if with_tests:
        files[out_dir / f"test_{spec.module}.py"] = rendered.tests
    return _write(files, out_dir, force)


def vendor_blocks(specs: list[BlockSpec], out_dir: Path, with_tests: bool, force: bool) -> list[Written]:
    """``_vendor_blocks`` one run at a time per package folder: its ``__init__.py`` lists every block."""
    with locked([out_dir]):
        return _vendor_blocks(specs, out_dir, with_tests, force)


def _vendor_blocks(specs: list[BlockSpec], out_dir: Path, with_tests: bool, force: bool) -> list[Written]:
    """Render blocks (catalog defaults) into one importable package.

    ``__init__.py`` exports every block class in the folder (earlier vendored ones
    included); helpers shared by several blocks are written once, to ``_helpers.py``.
    """
    files = {}
    for spec in specs:
        rendered = render(spec, spec.defaults(), with_tests=with_tests, packaged=True)
        files[out_dir / f"{spec.module}.py"] = rendered.block
        if with_tests:
            files[out_dir / f"test_{spec.module}.py"] = rendered.tests
    exported = {**_vendored_classes(out_dir), **{spec.module: spec for spec in specs}}
    helpers = sorted({name for spec in exported.values() for name in spec.helpers})
    if helpers:
        files[out_dir / "_helpers.py"] = render_helpers(helpers)
    files[out_dir / "__init__.py"] = _package_init(sorted(exported.values(), key=lambda spec: spec.module))
    # __init__ and _helpers follow the folder's blocks: rewritten as long as they are still ours
    ours = [path for path in (out_dir / "__init__.py", out_dir / "_helpers.py") if _still_ours(path, files.get(path))]
    kept = []
    helpers_file = out_dir / "_helpers.py"
    if helpers and not force and helpers_file.exists() and helpers_file not in ours:
        missing = _missing(helpers_file, files[helpers_file])
        if missing:
            lacking = {name for name in helpers if _missing(helpers_file, render_helpers([name]))}
            users = sorted(spec.id for spec in exported.values() if lacking & set(spec.uses))
            raise FileConflictError(
                f"{helpers_file}: you edited it, and it lacks {', '.join(missing)}, which {', '.join(users)} "
                f"import{'s' if len(users) == 1 else ''}; nothing was written. Copy the missing definitions in "
                f"from a fresh render (`plugforge vendor {' '.join(users)} -o OTHER_DIR`), or pass --force to "
                "rewrite it (your edits are lost)."
            )
        del files[helpers_file]  # your edited helpers already define every layer the blocks import: keep them
        kept.append(Written(helpers_file, "kept"))
    return _write(files, out_dir, force, rewritable=ours) + kept


def _missing(path: Path, rendered: str) -> list[str]:
    """The module-level classes and functions of ``rendered`` that the file at ``path`` does not define."""
    try:
        mine = _defined(ast.parse(path.read_bytes()))
    except (OSError, SyntaxError, ValueError):
        mine = set()
    return sorted(_defined(ast.parse(rendered)) - mine)


def _defined(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}


def _vendored_classes(out_dir: Path) -> dict[str, BlockSpec]:
    """The blocks an earlier `vendor` put into the folder, by module name."""
    found = {}
    for path in sorted(out_dir.glob("*.py")):
        header = provenance.read_path(path)
        if header and header.packaged and not header.tests:
            found[path.stem] = find(header.block_id)
    return found


def _package_init(specs: list[BlockSpec]) -> str:
    imports = [f"from .{spec.module} import {spec.class_name}" for spec in specs]
    names = ", ".join(f'"{spec.class_name}"' for spec in specs)
    note = '"""Blocks vendored by plugforge; `plugforge update --all` keeps them current."""'
    return "\n".join([note, "", *imports, "", f"__all__ = [{names}]", ""])


def _still_ours(path: Path, text: str | None) -> bool:
    """Whether a generated file on disk is as plugforge wrote it: unedited (its hash says), or for
    ``__init__.py``, which has no hash, starting as plugforge writes it."""
    if text is None or not path.is_file():
        return False
    current = path.read_text(encoding="utf-8")
    if provenance.read(current):
        return provenance.is_pristine(current)
    return current.partition("\n")[0] == text.partition("\n")[0]


def _write(files: dict[Path, str], out_dir: Path, force: bool, rewritable: list[Path] = ()) -> list[Written]:
    with locked([out_dir]):
        plan = [(path, text, _status(path, text)) for path, text in files.items()]
        conflicts = [path for path, _, status in plan if status == "overwritten" and path not in rewritable]
        if conflicts and not force:
            names = ", ".join(str(p) for p in conflicts)
            raise FileConflictError(
                f"{names}: already exists with different content; nothing was written. "
                "Pass --force to overwrite, or -o DIR to write elsewhere."
            )
        changes: dict[Path, str | None] = dict(files)
        for path, text in files.items():
            if provenance.read(text):  # keep the pristine copy `diff` and `update` start from
                changes[provenance.base_path(path)] = text
        write_all(changes, dry_run=False)
    return [Written(path, status) for path, _, status in plan]


def _status(path: Path, text: str) -> str:
    if not path.exists():
        return "created"
    return "unchanged" if path.read_text(encoding="utf-8", errors="replace") == text else "overwritten"
