"""A ``Placement.channels`` expression: plain arithmetic over the names in scope where the block is built.

The expression is written into ``__init__`` as given, so it is checked first: it may use
names bound there before the insertion point (parameters, locals, module-level names),
``self.<attr>`` assigned before it (or at class level), attributes and subscripts of
those, numbers, arithmetic, and calls to ``int``, ``round``, ``max`` and ``min``. Anything
else would fail only when the model is built, or run code the user did not mean to.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .errors import WireError
from .nodes import child_suites, nested_statements, parse_expression, small_statements

SAFE_CALLS = ("int", "round", "max", "min")
_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power)
_KINDS = {
    cst.IfExp: "a conditional expression", cst.Comparison: "a comparison", cst.BooleanOperation: "and/or",
    cst.Lambda: "a lambda", cst.SimpleString: "a string", cst.FormattedString: "a string",
    cst.ConcatenatedString: "a string", cst.BinaryOperation: "a bitwise operator", cst.List: "a list",
    cst.Tuple: "a tuple", cst.Dict: "a dict", cst.Set: "a set",
}  # fmt: skip
_ALLOWED = "names in scope, attributes, numbers, arithmetic (+ - * / // % **), subscripts and int/round/max/min"


@dataclass(frozen=True)
class InScope:
    """What an expression may name at one point of ``__init__``."""

    where: str  # "in Bottleneck.__init__ after self.bn3", for messages
    names: frozenset[str]  # parameters, locals bound before the point, module-level names
    local: tuple[str, ...]  # the parameters and locals, for messages
    attributes: frozenset[str]  # self.<attr> assigned before the point, or at class level
    later: frozenset[str]  # self.<attr> assigned only after the point
    open_names: bool = False  # a star import: bare names cannot be checked
    open_attributes: bool = False  # a user base class: self.<attr> may be inherited


def checked_channels(text: str, scope: InScope) -> cst.BaseExpression:
    """Parse ``Placement.channels`` and refuse what is not plain arithmetic over names in scope."""
    expression = parse_expression(text, "⟨channels⟩")
    _check(expression, text.strip(), scope)
    return expression


def scope_at(
    module: cst.Module,
    class_node: cst.ClassDef,
    init: cst.FunctionDef,
    statement: cst.BaseStatement,
    after: bool,
    where: str,
    inherits: bool,
    other_cells: bool = False,
) -> InScope:
    """Names bound before (or, ``after``, up to and including) ``statement`` of ``init``.

    ``inherits``: a user base class may assign any ``self.<attr>``. ``other_cells``: the
    module is a notebook cell, and the cells run before it may define any module name.
    """
    params = init.params
    names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
    names |= {p.name.value for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)}
    names.discard("self")
    module_names, star = _module_names(module)
    inside = {id(line) for line in [statement, *(n for s in child_suites(statement) for n in nested_statements(s))]}
    attributes, later, reached = set(), set(), False
    for line in nested_statements(init.body):
        reached = reached or id(line) in inside
        bound_names, bound_attributes = _bound(line)
        if reached and not (after and id(line) in inside):
            later |= bound_attributes
            continue
        names |= bound_names
        attributes |= bound_attributes
    attributes |= _class_level(class_node)
    return InScope(
        where, frozenset(names | module_names), tuple(sorted(names)), frozenset(attributes),
        frozenset(later - attributes), star or other_cells, inherits,
    )  # fmt: skip


def _check(node: cst.BaseExpression, text: str, scope: InScope) -> None:
    if isinstance(node, (cst.Integer, cst.Float)):
        return
    if isinstance(node, cst.Name):
        if node.value not in scope.names and not scope.open_names:
            _refuse(text, f"{node.value} is not defined {scope.where}; names there: {', '.join(scope.local)}")
        return
    if isinstance(node, cst.Attribute):
        if isinstance(node.value, cst.Name) and node.value.value == "self":
            _check_self(node.attr.value, text, scope)
        else:
            _check(node.value, text, scope)
        return
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _ARITHMETIC):
        _check(node.left, text, scope)
        _check(node.right, text, scope)
        return
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        _check(node.expression, text, scope)
        return
    if isinstance(node, cst.Subscript):
        _check(node.value, text, scope)
        for element in node.slice:
            if not isinstance(element.slice, cst.Index):
                _refuse(text, "a slice is not a channel count; index one element, e.g. widths[-1]")
            _check(element.slice.value, text, scope)
        return
    if isinstance(node, cst.Call):
        name = node.func.value if isinstance(node.func, cst.Name) else None
        if name not in SAFE_CALLS:
            called = cst.Module([]).code_for_node(node.func)
            _refuse(text, f"it calls {called}(), and only {', '.join(SAFE_CALLS)} may be called")
        for arg in node.args:
            if arg.star or arg.keyword is not None:
                _refuse(text, f"{name}() takes plain positional arguments here")
            _check(arg.value, text, scope)
        return
    _refuse(text, f"it uses {_KINDS.get(type(node), type(node).__name__)}")


def _check_self(attribute: str, text: str, scope: InScope) -> None:
    if attribute in scope.attributes or scope.open_attributes:
        return
    if attribute in scope.later:
        _refuse(text, f"self.{attribute} is assigned only after the block is built ({scope.where})")
    _refuse(text, f"self.{attribute} is not assigned {scope.where}")


def _refuse(text: str, why: str) -> None:
    raise WireError(
        f"⟨channels⟩ {text!r}: {why}. The expression is written into __init__ where the block is built, so it "
        f"may use only {_ALLOWED}; e.g. ⟨channels⟩ 'planes * self.expansion'"
    )


def _bound(line: cst.CSTNode) -> tuple[set[str], set[str]]:
    """Local names and ``self.<attr>`` a statement binds."""
    targets: list[cst.BaseExpression] = []
    if isinstance(line, cst.For):
        targets.append(line.target)
    if isinstance(line, cst.With):
        targets += [item.asname.name for item in line.items if item.asname]
    for statement in small_statements(line):
        if isinstance(statement, cst.Assign):
            targets += [target.target for target in statement.targets]
        elif isinstance(statement, (cst.AnnAssign, cst.AugAssign)):
            targets.append(statement.target)
        elif isinstance(statement, (cst.Import, cst.ImportFrom)) and not isinstance(statement.names, cst.ImportStar):
            targets += [_imported_name(alias) for alias in statement.names]
    names, attributes = set(), set()
    for target in targets:
        for node in _unpacked(target):
            if isinstance(node, cst.Name):
                names.add(node.value)
            elif isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
                attributes.add(node.attr.value)
    return names, attributes


def _unpacked(target: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [node for element in target.elements for node in _unpacked(element.value)]
    return [target]


def _imported_name(alias: cst.ImportAlias) -> cst.BaseExpression:
    if alias.asname is not None:
        return alias.asname.name
    name = alias.name
    while isinstance(name, cst.Attribute):  # import a.b binds a
        name = name.value
    return name


def _module_names(module: cst.Module) -> tuple[set[str], bool]:
    """Module-level names, and whether a star import makes them unknowable."""
    names, star = set(), False
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        for small in small_statements(statement):
            star = star or (isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar))
        names |= _bound(statement)[0]
    return names, star


def _class_level(class_node: cst.ClassDef) -> set[str]:
    found = set()
    for statement in class_node.body.body:
        if isinstance(statement, cst.FunctionDef):
            found.add(statement.name.value)
        found |= _bound(statement)[0]
    return found
