"""Finding the source of imported names on disk, without importing anything.

A model file's ``from .conv import Conv`` or ``from timm.layers import ConvNormAct``
is followed to the file that defines the name: modules of the file's own package
are found from the package root, others on ``sys.path`` (site-packages included).
Each file is read and parsed at most once per ``ModuleIndex``, and only the files
on the way to a definition are read, never a whole package.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from .imports import ast_bindings, module_bindings

# Names from these packages are torch layers or plain Python, never model helpers.
NOT_FOLLOWED = {"torch", "typing", "typing_extensions", "numpy", "math"} | set(sys.stdlib_module_names)


@dataclass(frozen=True)
class ModuleFile:
    """A source file's top-level definitions and imports, and the dotted name Python imports it by."""

    name: str  # "ultralytics.nn.modules.block"
    path: Path | None
    is_package: bool  # an __init__.py: relative imports start at the module itself
    functions: Mapping[str, cst.FunctionDef]
    classes: Mapping[str, cst.ClassDef]
    imports: Mapping[str, str]  # name -> what it refers to, as written (".conv.Conv")

    @classmethod
    def parsed(cls, name: str, path: Path | None, is_package: bool, module: cst.Module) -> ModuleFile:
        """A file already parsed whole (the model file)."""
        functions = {node.name.value: node for node in module.body if isinstance(node, cst.FunctionDef)}
        classes = {node.name.value: node for node in module.body if isinstance(node, cst.ClassDef)}
        return cls(name, path, is_package, functions, classes, module_bindings(module))

    def absolute(self, target: str) -> str:
        """``.conv.Conv`` read in this module, as an absolute dotted name."""
        level = len(target) - len(target.lstrip("."))
        if not level:
            return target
        package = self.name.split(".") if self.is_package else self.name.split(".")[:-1]
        base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
        rest = target[level:]
        return ".".join([*base, rest] if rest else base)


class _Definitions(Mapping):
    """Top-level definitions of one kind, each parsed with libcst only when asked for.

    Python's own parser finds where each definition is; libcst, about ten times
    slower, then parses just those lines. A helper module of 700 lines costs the
    parse of one class, not of the file.
    """

    def __init__(self, lines: list[str], spans: dict[str, tuple[int, int]]) -> None:
        self._lines, self._spans = lines, spans
        self._parsed: dict[str, cst.CSTNode] = {}

    def __getitem__(self, name: str) -> cst.CSTNode:
        if name not in self._parsed:
            start, end = self._spans[name]
            self._parsed[name] = cst.parse_module("".join(self._lines[start:end])).body[0]
        return self._parsed[name]

    def __contains__(self, name: object) -> bool:
        return name in self._spans

    def __iter__(self):
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)


def _lazily(name: str, path: Path, is_package: bool, source: str) -> ModuleFile:
    """A file read with Python's parser; its definitions are parsed with libcst on demand."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    functions, classes, imports = {}, {}, []
    for node in tree.body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))]) - 1
        span = (start, node.end_lineno)
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = span
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = span
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):  # a later definition replaces an earlier one
            (classes if isinstance(node, ast.FunctionDef) else functions).pop(node.name, None)
    return ModuleFile(
        name, path, is_package, _Definitions(lines, functions), _Definitions(lines, classes), ast_bindings(imports)
    )


class ModuleIndex:
    """The source files reachable from one model file, parsed on demand."""

    def __init__(self, model_path: Path, search_path: Sequence[str] | None = None) -> None:
        model_path = Path(model_path).absolute().parent.resolve() / Path(model_path).name  # a link: where it is
        self.model_name, root = _dotted_name(model_path)
        self.roots = [root, model_path.parent]
        self.roots += [Path(entry).resolve() for entry in (sys.path if search_path is None else search_path) if entry]
        self._files: dict[str, ModuleFile | None] = {}
        self._model_path = model_path

    @property
    def in_notebook(self) -> bool:
        """The model is a notebook cell: names defined by the cells above it are in scope too."""
        return self._model_path.suffix == ".ipynb"

    def model_file(self, module: cst.Module) -> ModuleFile:
        """The model file itself, already parsed by the caller."""
        return ModuleFile.parsed(self.model_name, self._model_path, self._model_path.name == "__init__.py", module)

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
        return _lazily(name, path, is_package, path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, cst.ParserSyntaxError):
        return None


def _dotted_name(path: Path) -> tuple[str, Path]:
    """``("pkg.sub.mod", root)`` for ``root/pkg/sub/mod.py`` where pkg and sub are packages."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder
