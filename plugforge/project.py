"""File-level plumbing around the wiring: configuration, import paths, all-or-nothing writes.

Like ``plugforge.wire`` this module never imports torch, the catalog or the renderer.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from . import files
from .errors import ProjectError
from .files import display

STYLES = ("module", "inline")
CONFIG_KEYS = ("blocks-dir", "tests-dir", "render-tests", "style")


@dataclass(frozen=True)
class Config:
    """``[tool.plugforge]`` of the nearest pyproject.toml, with defaults filled in.

    ``blocks-dir`` and ``tests-dir`` set in pyproject.toml are relative to its
    directory; without them blocks go to ``blocks/`` next to the model file.
    With ``render-tests = true``, `add` also renders each block's tests, into
    ``tests-dir`` (default: beside the block).
    """

    blocks_dir: Path
    tests_dir: Path | None = None
    render_tests: bool = False
    style: str = "module"
    pyproject: Path | None = None


class ImportSpec(NamedTuple):
    """How the model file imports a vendored block, and the package files that must be created."""

    module: str
    level: int
    missing_inits: list[Path]


def find_config(model_path: Path | str) -> Config:
    """Read the nearest pyproject.toml above the model file; nothing is created."""
    model_dir = folder_of(model_path)
    pyproject = _nearest(model_dir, "pyproject.toml")
    table = _plugforge_table(pyproject) if pyproject else {}
    unknown = sorted(set(table) - set(CONFIG_KEYS))
    if unknown:
        raise ProjectError(
            f"unknown key(s) {', '.join(unknown)} in [tool.plugforge] of {pyproject}; "
            f"valid keys: {', '.join(CONFIG_KEYS)}"
        )
    style = table.get("style", "module")
    if style not in STYLES:
        raise ProjectError(f'style = {style!r} in [tool.plugforge] of {pyproject}; use "module" or "inline"')
    blocks_dir = _path_value(table, "blocks-dir", pyproject) if "blocks-dir" in table else model_dir / "blocks"
    tests_dir = _path_value(table, "tests-dir", pyproject) if "tests-dir" in table else None
    render_tests = table.get("render-tests", False)
    if not isinstance(render_tests, bool):
        raise ProjectError(f"render-tests in [tool.plugforge] of {pyproject} must be true or false")
    return Config(blocks_dir, tests_dir, render_tests, style, pyproject)


def folder_of(model_path: Path | str) -> Path:
    """The folder the model is imported from: a symlinked model file counts where the link is, not its target."""
    return Path(model_path).absolute().parent.resolve()


def _nearest(directory: Path, name: str) -> Path | None:
    for candidate in (directory, *directory.parents):
        if (candidate / name).is_file():
            return candidate / name
    return None


def _plugforge_table(pyproject: Path) -> dict:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProjectError(f"cannot read {pyproject}: {error}; fix the TOML syntax") from None
    except UnicodeDecodeError as error:
        raise ProjectError(
            f"cannot read {pyproject}: it is not UTF-8 ({error.reason} at byte {error.start}), as TOML must be; "
            "save it as UTF-8"
        ) from None
    except OSError as error:
        raise ProjectError(f"cannot read {pyproject}: {error.strerror}; check its permissions") from None
    table = data.get("tool", {}).get("plugforge", {})
    if not isinstance(table, dict):
        raise ProjectError(f"[tool.plugforge] in {pyproject} must be a table")
    return table


def _path_value(table: dict, key: str, pyproject: Path) -> Path:
    """A configured folder: relative to the pyproject.toml's folder, and never outside it."""
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ProjectError(f"{key} in [tool.plugforge] of {pyproject} must be a non-empty path string")
    project = pyproject.parent.resolve()
    path = (project / value).resolve()
    if not path.is_relative_to(project):
        raise ProjectError(
            f"{key} = {value!r} in [tool.plugforge] of {pyproject} points outside the project ({path}); "
            f"plugforge writes only inside {project}: give a folder under it, e.g. {key} = \"{_example(key)}\""
        )
    return path


def _example(key: str) -> str:
    return {"blocks-dir": "src/mynet/blocks", "tests-dir": "tests/blocks"}.get(key, "blocks")


def import_for(model_path: Path | str, block_file_path: Path | str) -> ImportSpec:
    """The import the model needs for a block file: relative inside a package, absolute beside a script."""
    model_dir = folder_of(model_path)
    block_file = Path(block_file_path).resolve()
    if (model_dir / "__init__.py").is_file():
        packages = _package_chain(model_dir)
        for level, package in enumerate(packages, start=1):
            if block_file.is_relative_to(package):
                _refuse_shadowing(block_file, package)
                return ImportSpec(_module_path(block_file, package), level, _missing_inits(block_file, package))
        root = packages[-1].parent
    else:
        root = model_dir
    if not block_file.is_relative_to(root):
        raise ProjectError(
            f"the blocks directory {block_file.parent} is outside {root}, so the model cannot import from it; "
            f"set blocks-dir under {root} in [tool.plugforge], or use --inline"
        )
    _refuse_shadowing(block_file, root)
    _refuse_top_level_clash(block_file, root)
    return ImportSpec(_module_path(block_file, root), 0, _missing_inits(block_file, root))


_FIX = 'set another folder in pyproject.toml, e.g. [tool.plugforge] blocks-dir = "plugforge_blocks", or use --inline'


def _refuse_shadowing(block_file: Path, root: Path) -> None:
    """Each folder from ``root`` down to the block is (or becomes) a package, and a package hides a
    module of the same name beside it (``blocks/`` hides ``blocks.py``): refuse that, naming the fix."""
    directory = block_file.parent
    while directory != root:
        module = directory.parent / f"{directory.name}.py"
        if module.is_file():
            raise ProjectError(
                f"{display(module)} would be hidden by the package {display(directory)}/ that holds the blocks "
                f"(`import {directory.name}` would load the package, and your {directory.name}.py would no longer "
                f"be found); {_FIX}"
            )
        directory = directory.parent


def _refuse_top_level_clash(block_file: Path, root: Path) -> None:
    """An absolute import's first name must not be a standard-library or installed module it would hide."""
    name = block_file.relative_to(root).parts[0].removesuffix(".py")
    if (root / name).is_dir() and (root / name / "__init__.py").is_file():
        return  # the user's own package already has that name
    here = {root.resolve(), Path.cwd().resolve()}
    elsewhere = [entry for entry in sys.path if entry and Path(entry).resolve() not in here]
    clash = "the standard library's" if name in sys.stdlib_module_names else None
    if clash is None and importlib.machinery.PathFinder.find_spec(name, elsewhere) is not None:
        clash = "the installed"
    if clash:
        raise ProjectError(
            f"the blocks folder {display(block_file.parent)} would be imported as `{name}`, which hides "
            f"{clash} module {name}; {_FIX}"
        )


def absolute_module(block_file: Path, new_inits: list[Path]) -> str:
    """The block's dotted module path from the top of its package chain (``mynet.blocks.se``)."""
    root = Path(block_file).resolve().parent
    while (root / "__init__.py").is_file() or root / "__init__.py" in new_inits:
        root = root.parent
    return _module_path(Path(block_file).resolve(), root)


def module_file(model_path: Path | str, origin: str) -> Path:
    """The file behind an import of the model (``blocks.sk``, ``.blocks.sk``): inverse of ``import_for``.

    ``remove`` reports the block modules it stopped importing this way, so the caller
    can delete a vendored file nothing imports any more.
    """
    model_dir = folder_of(model_path)
    module = origin.lstrip(".")
    level = len(origin) - len(module)
    if level:
        base = model_dir.parents[level - 2] if level > 1 else model_dir
    elif (model_dir / "__init__.py").is_file():
        base = _package_chain(model_dir)[-1].parent
    else:
        base = model_dir
    return base.joinpath(*module.split(".")).with_suffix(".py")


def _package_chain(directory: Path) -> list[Path]:
    """The package holding the model and every enclosing package, innermost first."""
    chain = [directory]
    while (chain[-1].parent / "__init__.py").is_file() and chain[-1].parent != chain[-1]:
        chain.append(chain[-1].parent)
    return chain


def _module_path(block_file: Path, root: Path) -> str:
    parts = [*block_file.relative_to(root).parent.parts, block_file.stem]
    bad = [part for part in parts if not part.isidentifier()]
    if bad:
        raise ProjectError(f"cannot import {block_file}: {', '.join(bad)} is not a valid module name; rename it")
    return ".".join(parts)


def _missing_inits(block_file: Path, root: Path) -> list[Path]:
    """``__init__.py`` files to create so that every directory from root to the block is a package."""
    directory, missing = block_file.parent, []
    while directory != root:
        if not (directory / "__init__.py").exists():
            missing.insert(0, directory / "__init__.py")
        directory = directory.parent
    return missing


def write_all(changes: dict[Path, str | None], dry_run: bool, conflicted: Iterable[Path] = ()) -> str:
    """Write every file or none (``None`` deletes); a dry run returns a unified diff instead.

    Contents are written exactly as given (CRLF and BOM included). Files whose
    content does not change are left alone. The rules of ``plugforge.files`` apply:
    through symlinks, read-only refused, only code that compiles (except the
    ``conflicted`` files, whose conflict markers the user resolves), mode and owner kept.
    """
    conflicted = {files.through_links(Path(path)) for path in conflicted}
    changes = {  # a write goes to a symlink's target; a deletion takes out the link itself
        files.through_links(Path(path)) if content is not None else Path(path): content
        for path, content in changes.items()
    }
    changes = {path: content for path, content in changes.items() if _read(path) != content}
    if dry_run:
        return "".join(_diff(path, content) for path, content in changes.items())
    deleted = [path for path, content in changes.items() if content is None]
    files.check_writable([path for path in changes if path not in deleted], deleted)
    for path, content in changes.items():
        if content is not None and path not in conflicted:
            files.check_compiles(path, content, _read(path))
    with restored_on_error(changes):
        staged = _stage(changes)
        try:
            for temporary, path in staged:
                os.replace(temporary, path)
            for path in deleted:
                path.unlink(missing_ok=True)
        except OSError as error:
            for temporary, _ in staged:
                Path(temporary).unlink(missing_ok=True)
            raise files.os_error(error, error.filename or "a file") from None
    return "".join(
        f"{'deleted' if content is None else 'wrote'} {display(path)}\n" for path, content in changes.items()
    )


def _stage(changes: dict[Path, str | None]) -> list[tuple[str, Path]]:
    """Write each new content to a temporary file beside its target; on any failure, undo and raise."""
    staged: list[tuple[str, Path]] = []
    created: list[Path] = []
    path = None
    try:
        for path, content in changes.items():
            if content is None:
                continue
            created += _make_directories(path.parent)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((temporary, path))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(content)
            files.keep_metadata(temporary, path)
    except BaseException as error:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        files.remove_empty_folders(created)
        if isinstance(error, OSError):
            raise files.os_error(error, path) from None
        raise
    return staged


def _make_directories(directory: Path) -> list[Path]:
    missing = [parent for parent in (directory, *directory.parents) if not parent.exists()]
    for parent in reversed(missing):
        parent.mkdir()
    return list(reversed(missing))


def _read(path: Path) -> str | None:
    """The file's text; bytes that are not UTF-8 show as U+FFFD (only compared and shown, never written)."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", errors="replace", newline="") as stream:
        return stream.read()


def _diff(path: Path, new: str | None) -> str:
    old, name = _read(path), display(path)
    if not old and not new:  # no lines, so no hunk: say what happens instead of a bare header
        return f"diff --git a/{name} b/{name}\n{'new' if old is None else 'deleted'} empty file {name}\n"
    lines = difflib.unified_diff(
        _lines(old),
        _lines(new),
        fromfile=f"a/{name}" if old is not None else "/dev/null",
        tofile=f"b/{name}" if new is not None else "/dev/null",
    )
    return f"diff --git a/{name} b/{name}\n" + "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _lines(text: str | None) -> list[str]:
    return text.splitlines(keepends=True) if text else []


@contextmanager
def restored_on_error(paths: Iterable[Path]) -> Iterator[None]:
    """If the body raises, put every path back to its exact bytes, then re-raise.

    Files that did not exist are removed, and so are the directories the body
    created for them once they are empty. ``add --check`` writes through this.
    """
    saved = {Path(path): Path(path).read_bytes() if Path(path).is_file() else None for path in paths}
    new_directories = {parent for path in saved for parent in path.parents if not parent.exists()}
    try:
        yield
    except BaseException:
        for path, data in saved.items():
            if data is None:
                path.unlink(missing_ok=True)
            elif not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)
        files.remove_empty_folders(new_directories)
        raise
