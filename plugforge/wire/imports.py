"""Top-level imports: where they end, what they bind, adding and removing one."""

from __future__ import annotations

import ast
import re

import libcst as cst

from .errors import WireError
from .nodes import code, dotted_name

INLINE_BEGIN = "# >>> plugforge inline: "
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def leading_lines(module: cst.Module, index: int) -> list[cst.EmptyLine]:
    """The comment and blank lines above a top-level statement.

    libcst keeps those above the first statement in ``Module.header``; they are
    included here, as they print the same.
    """
    lines = list(getattr(module.body[index], "leading_lines", ()))
    return [*module.header, *lines] if index == 0 else lines


def starts_inlined_code(module: cst.Module, index: int) -> bool:
    return any(
        line.comment is not None and line.comment.value.startswith(INLINE_BEGIN)
        for line in leading_lines(module, index)
    )


def insertion_index(module: cst.Module) -> int:
    """Where new imports and inlined code go: after the last import of the file's header.

    The header ends at the first class, def or inlined block; without imports the
    new lines go after the module docstring.
    """
    last_import, after_docstring = None, 0
    for index, statement in enumerate(module.body):
        if isinstance(statement, (cst.ClassDef, cst.FunctionDef)) or starts_inlined_code(module, index):
            break
        if is_import_line(statement):
            last_import = index
        elif index == 0 and _is_docstring(statement):
            after_docstring = 1
    return last_import + 1 if last_import is not None else after_docstring


def _is_docstring(statement: cst.CSTNode) -> bool:
    body = getattr(statement, "body", ())
    return len(body) == 1 and isinstance(body[0], cst.Expr) and isinstance(body[0].value, cst.SimpleString)


def bindings(statement: cst.CSTNode) -> dict[str, str]:
    """Names an import line binds, each to the dotted thing it refers to."""
    bound: dict[str, str] = {}
    for small in getattr(statement, "body", ()):
        if isinstance(small, cst.Import):
            for alias in small.names:
                bound.update(_imported(dotted_name(alias.name), _alias_name(alias)))
        elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            base = _from_module(small)
            for alias in small.names:
                bound.update(_imported_from(base, dotted_name(alias.name), _alias_name(alias)))
    return bound


def ast_bindings(statements: list[ast.stmt]) -> dict[str, str]:
    """``bindings`` for statements parsed with Python's own ``ast`` (files only read, never rewritten)."""
    bound: dict[str, str] = {}
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound.update(_imported(alias.name, alias.asname))
        elif isinstance(statement, ast.ImportFrom):
            base = "." * statement.level + (statement.module or "")
            for alias in statement.names:
                if alias.name != "*":
                    bound.update(_imported_from(base, alias.name, alias.asname))
    return bound


def _imported(full: str, alias: str | None) -> dict[str, str]:
    """``import a.b`` binds ``a`` to ``a``; ``import a.b as c`` binds ``c`` to ``a.b``."""
    return {alias: full} if alias else {full.split(".")[0]: full.split(".")[0]}


def _imported_from(base: str, name: str, alias: str | None) -> dict[str, str]:
    """``from .m import x as y`` binds ``y`` to ``.m.x``; ``from . import x`` binds ``x`` to ``.x``."""
    separator = "" if base.endswith(".") else "."
    return {alias or name: f"{base}{separator}{name}"}


def module_bindings(module: cst.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for statement in module.body:
        if is_import_line(statement):
            found.update(bindings(statement))
    return found


def defined_names(statements) -> set[str]:
    """Classes, functions and plain names assigned by top-level statements."""
    names = set()
    for statement in statements:
        if isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
            names.add(statement.name.value)
        for small in getattr(statement, "body", ()) if isinstance(statement, cst.SimpleStatementLine) else ():
            targets = [target.target for target in getattr(small, "targets", ())]
            targets += [small.target] if isinstance(small, cst.AnnAssign) else []
            names |= {target.value for target in targets if isinstance(target, cst.Name)}
    return names


def add_import(module: cst.Module, class_name: str, module_name: str, level: int):
    """``(module, message)`` with ``from <module> import <class>`` added unless already there."""
    if not DOTTED.match(module_name) or level < 0:
        raise WireError(f"invalid block module {module_name!r} (level {level}); expected a dotted module name")
    target = "." * level + module_name
    bound = module_bindings(module).get(class_name)
    if bound == f"{target}.{class_name}":
        return module, None
    if bound is not None or class_name in defined_names(module.body):
        raise WireError(_taken(class_name, bound))
    line = cst.parse_statement(f"from {target} import {class_name}\n")
    index = insertion_index(module)
    body = [*module.body[:index], line, *module.body[index:]]
    return module.with_changes(body=body), f"added `from {target} import {class_name}`"


def _taken(class_name: str, bound: str | None) -> str:
    """Why the block's import cannot be added: the file has its own class of that name."""
    where = f"imported from {bound.rpartition('.')[0] or bound}" if bound else "defined in the file"
    return (
        f"the file already has its own {class_name} ({where}), which is not the ⟨library⟩'s block; plugforge does "
        f"not replace it: rename yours (and its uses), or wire the block into a file that does not define {class_name}"
    )


def remove_import(module: cst.Module, class_name: str) -> tuple[cst.Module, str | None]:
    """Drop the import of ``class_name``; returns the module it came from, if it was imported."""
    for index, statement in enumerate(module.body):
        imported = _from_import_of(statement, class_name)
        if imported is None:
            continue
        names = [alias for alias in imported.names if (_alias_name(alias) or alias.name.value) != class_name]
        body = list(module.body)
        if names:
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            body[index] = statement.with_changes(body=[imported.with_changes(names=names)])
        else:
            del body[index]
        return module.with_changes(body=body), _from_module(imported)
    return module, None


def imported_block_names(module: cst.Module) -> set[str]:
    """Names imported from outside torch and the standard tools: candidates for blocks."""
    return {
        name
        for name, target in module_bindings(module).items()
        if not target.startswith(("torch", "math", "typing", "collections", "functools"))
    }


def _from_import_of(statement: cst.CSTNode, class_name: str) -> cst.ImportFrom | None:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
        if any((_alias_name(alias) or alias.name.value) == class_name for alias in small.names):
            return small
    return None


def _from_module(node: cst.ImportFrom) -> str:
    return "." * len(node.relative) + (code(node.module) if node.module else "")


def _alias_name(alias: cst.ImportAlias) -> str | None:
    return alias.asname.name.value if alias.asname else None
