"""`plugforge new`: render an entry into files, never clobbering a user's edits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugforge.catalog import BlockSpec
from plugforge.errors import FileConflictError
from plugforge.render import render


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
    plan = [(path, text, _status(path, text)) for path, text in files.items()]
    conflicts = [path for path, _, status in plan if status == "overwritten"]
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
    return [Written(path, status) for path, _, status in plan]


def _status(path: Path, text: str) -> str:
    if not path.exists():
        return "created"
    return "unchanged" if path.read_text(encoding="utf-8") == text else "overwritten"
