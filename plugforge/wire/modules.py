"""Finding the source of imported names on disk, without importing anything.

A model file's ``from .conv import Conv`` or ``from timm.layers import ConvNormAct``
is followed to the file that defines the name: modules of the file's own package
are found from the package root, others on ``sys.path`` (site-packages included).
Each file is read and parsed at most once per ``ModuleIndex``, and only the files
on the way to a definition are read, never a whole package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

# Names from these packages are torch layers or plain Python, never model helpers.
NOT_FOLLOWED = {"torch", "typing", "typing_extensions", "numpy", "math"} | set(sys.stdlib_module_names)


@dataclass(frozen=True)
class ModuleFile:
    """A parsed source file and the dotted name Python imports it by."""

    name: str  # "ultralytics.nn.modules.block"
    path: Path
    is_package: bool  # an __init__.py: relative imports start at the module itself
    module: cst.Module

    def absolute(self, target: str) -> str:
        """``.conv.Conv`` read in this module, as an absolute dotted name."""
        level = len(target) - len(target.lstrip("."))
        if not level:
            return target
        package = self.name.split(".") if self.is_package else self.name.split(".")[:-1]
        base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
        rest = target[level:]
        return ".".join([*base, rest] if rest else base)


class ModuleIndex:
    """The source files reachable from one model file, parsed on demand."""

    def __init__(self, model_path: Path, search_path: Sequence[str] | None = None) -> None:
        model_path = Path(model_path).resolve()
        self.model_name, root = _dotted_name(model_path)
        self.roots = [root, model_path.parent]
        self.roots += [Path(entry).resolve() for entry in (sys.path if search_path is None else search_path) if entry]
        self._files: dict[str, ModuleFile | None] = {}
        self._model_path = model_path

    def model_file(self, module: cst.Module) -> ModuleFile:
        """The model file itself, already parsed by the caller."""
        return ModuleFile(self.model_name, self._model_path, self._model_path.name == "__init__.py", module)

    def load(self, name: str) -> ModuleFile | None:
        """The module ``name`` (dotted, absolute), or None when it is not found or not followed."""
        if not name or name.split(".")[0] in NOT_FOLLOWED:
            return None
        if name not in self._files:
            self._files[name] = self._read(name)
        return self._files[name]

    def _read(self, name: str) -> ModuleFile | None:
        parts = name.split(".")
        for root in self.roots:
            base = root.joinpath(*parts)
            for path, is_package in ((base / "__init__.py", True), (base.with_suffix(".py"), False)):
                if path.is_file():
                    return _parsed(name, path, is_package)
        return None


def _parsed(name: str, path: Path, is_package: bool) -> ModuleFile | None:
    try:
        return ModuleFile(name, path, is_package, cst.parse_module(path.read_bytes()))
    except (OSError, cst.ParserSyntaxError):
        return None


def _dotted_name(path: Path) -> tuple[str, Path]:
    """``("pkg.sub.mod", root)`` for ``root/pkg/sub/mod.py`` where pkg and sub are packages."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder
