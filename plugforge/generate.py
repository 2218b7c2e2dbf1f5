"""`plugforge new` and `vendor`: render entries into files, never clobbering a user's edits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugforge import provenance
from plugforge.catalog import BlockSpec, find
from plugforge.errors import FileConflictError
from plugforge.render import render, render_helpers


@dataclass(frozen=True)
class Written:
    path: Path
    status: str  # "created", "overwritten" or "unchanged"


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
    return _write(files, out_dir, force, rewritable=ours)


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
    plan = [(path, text, _status(path, text)) for path, text in files.items()]
    conflicts = [path for path, _, status in plan if status == "overwritten" and path not in rewritable]
    if conflicts and not force:
        names = ", ".join(str(p) for p in conflicts)
        raise FileConflictError(
            f"{names}: already exists with different content; nothing was written. "
            "Pass --force to overwrite, or -o DIR to write elsewhere."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text, status in plan:
        if status != "unchanged":
            path.write_text(text, encoding="utf-8", newline="\n")
        if provenance.read(text):  # keep the pristine copy `diff` and `update` start from
            base = provenance.base_path(path)
            base.parent.mkdir(exist_ok=True)
            base.write_text(text, encoding="utf-8", newline="\n")
    return [Written(path, status) for path, _, status in plan]


def _status(path: Path, text: str) -> str:
    if not path.exists():
        return "created"
    return "unchanged" if path.read_text(encoding="utf-8") == text else "overwritten"
