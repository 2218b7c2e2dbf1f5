"""Teach Ultralytics' ``parse_model`` (``ultralytics/nn/tasks.py``) the plugforge blocks.

Two edits, located by structure, each undone exactly by `unpatch`:

- an import of the module that lists the blocks, after tasks.py's import from
  ``ultralytics.nn.modules`` (``parse_model`` finds a row's class in the globals);
- two branches right before the final ``else: c2 = ch[f]`` of ``parse_model``:
  shape-preserving blocks get the input width as their first argument, in/out
  blocks get ``base_modules``' scaling of their first YAML argument.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from .errors import WireError
from .yolo_register import BRANCHES, IN_OUT, SAME, width_expression

LISTING = "plugforge_blocks"  # ultralytics/nn/modules/plugforge_blocks.py (ultralytics/nn/plugforge_blocks/ in 8.0)
_IMPORT = "from {module} import *  # noqa: F403 (plugforge: blocks parse_model builds)\n"

_FALLBACK = m.Else(
    body=m.IndentedBlock(body=[m.SimpleStatementLine(body=[m.Assign(
        targets=[m.AssignTarget(target=m.Name("c2"))],
        value=m.Subscript(value=m.Name("ch"), slice=[m.SubscriptElement(slice=m.Index(value=m.Name("f")))]),
    )])])
)  # fmt: skip
_OURS = m.If(test=m.Comparison(left=m.Name("m"), comparisons=[m.ComparisonTarget(comparator=m.Name(SAME))]))


def is_patched(source: str) -> bool:
    return SAME in source and f"{LISTING} import *" in source


def patch(source: str, path: str = "tasks.py", module: str = f"ultralytics.nn.modules.{LISTING}") -> str:
    """tasks.py with the import of ``module`` and the two branches; unchanged when they are there already."""
    if is_patched(source):
        return source
    tree = _parse(source, path)
    function = _parse_model(tree, path)
    fallbacks = _fallback_ifs(function)
    if len(fallbacks) != 1:
        where = "no" if not fallbacks else f"{len(fallbacks)}"
        raise WireError(
            f"{path}: parse_model has {where} final `else: c2 = ch[f]` branch where plugforge expects exactly one; "
            "this Ultralytics version is not supported: use the runtime module (drop ⟨ultralytics⟩) or add the "
            "branches by hand (see the README's YOLO section)"
        )
    branches = _branches(function, path)
    owner = fallbacks[0]
    new_function = function.deep_replace(owner, owner.with_changes(orelse=_graft(branches, owner.orelse)))
    tree = tree.deep_replace(function, new_function)
    return _with_import(tree, path, module).code


def unpatch(source: str, path: str = "tasks.py") -> str:
    """tasks.py without what `patch` added (the original text)."""
    if not is_patched(source):
        return source
    module = _parse(source, path)
    function = _parse_model(module, path)
    owners = [node for node in _ifs(function) if m.matches(node.orelse, _OURS)]
    if len(owners) != 1:
        raise WireError(f"{path}: the plugforge branches of parse_model were edited; remove them by hand")
    owner = owners[0]
    original = owner.orelse.orelse.orelse  # ours -> its elif -> the original else
    module = module.deep_replace(function, function.deep_replace(owner, owner.with_changes(orelse=original)))
    body = [s for s in module.body if not (isinstance(s, cst.SimpleStatementLine) and _is_our_import(s))]
    return module.with_changes(body=body).code


def module_names(source: str, path: str = "tasks.py") -> set[str]:
    """Names defined or imported at the top level of tasks.py (a block class must not shadow one)."""
    import ast

    names: set[str] = set()
    for node in ast.parse(source, path).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _parse(source: str, path: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise WireError(f"{path} is not valid Python ({error.message}); fix it first") from None


def _parse_model(module: cst.Module, path: str) -> cst.FunctionDef:
    found = [s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == "parse_model"]
    if len(found) != 1:
        raise WireError(f"{path} has no top-level parse_model function; pass Ultralytics' ultralytics/nn/tasks.py")
    return found[0]


def _ifs(function: cst.FunctionDef) -> list[cst.If]:
    found: list[cst.If] = []

    class Collect(cst.CSTVisitor):
        def visit_If(self, node: cst.If) -> None:
            found.append(node)

    function.visit(Collect())
    return found


def _fallback_ifs(function: cst.FunctionDef) -> list[cst.If]:
    return [node for node in _ifs(function) if node.orelse is not None and m.matches(node.orelse, _FALLBACK)]


def _branches(function: cst.FunctionDef, path: str) -> cst.If:
    """The two branches, in the names this version's parse_model uses for the width and its cap."""
    names = {n.value for n in m.findall(function, m.Name()) if isinstance(n, cst.Name)}
    expression = width_expression(names)
    if expression is None:
        raise WireError(
            f"{path}: parse_model has no width multiple (`width`) or make_divisible; this version is not supported"
        )
    return cst.parse_statement(BRANCHES.format(same=SAME, in_out=IN_OUT, width_expr=expression))


def _graft(branches: cst.If, fallback: cst.Else) -> cst.If:
    """``branches`` with its final ``else: pass`` replaced by the original ``else``."""
    second = branches.orelse
    return branches.with_changes(orelse=second.with_changes(orelse=fallback))


def _is_our_import(statement: cst.SimpleStatementLine) -> bool:
    return (
        m.matches(statement.body[0], m.ImportFrom(module=m.Attribute(attr=m.Name(LISTING))))
        if statement.body
        else False
    )


def _with_import(module: cst.Module, path: str, listing: str) -> cst.Module:
    """The star import of the listing, right after tasks.py's import from ultralytics.nn.modules."""
    body = list(module.body)
    for position, statement in enumerate(body):
        if isinstance(statement, cst.SimpleStatementLine) and m.matches(
            statement.body[0],
            m.ImportFrom(module=m.Attribute(value=m.Attribute(attr=m.Name("nn")), attr=m.Name("modules"))),
        ):
            body.insert(position + 1, cst.parse_statement(_IMPORT.format(module=listing)))
            return module.with_changes(body=body)
    raise WireError(f"{path} does not import from ultralytics.nn.modules; pass Ultralytics' ultralytics/nn/tasks.py")
