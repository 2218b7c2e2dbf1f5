"""What the names of one function may hold: layer factories and lists of layers.

Real constructors build layers through names bound in the function itself:
``norm_layer(planes)`` with ``norm_layer=None`` then ``if norm_layer is None:
norm_layer = nn.BatchNorm2d``; ``layers = []`` + ``layers.append(...)`` then
``nn.Sequential(*layers)``. A ``Scope`` records, for each such name, the values
it may take and the layers added to it, in source order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import libcst as cst

from .nodes import callee, dotted_name, nested_statements, small_statements

# Methods that add layers to a list or a Sequential, and how many leading arguments are not layers.
ADDING_METHODS = {"append": 0, "extend": 0, "add_module": 1, "insert": 1}
PARTIAL = {"partial", "functools.partial"}


@dataclass(frozen=True)
class Scope:
    values: Mapping[str, tuple[cst.BaseExpression, ...]] = field(default_factory=dict)
    added: Mapping[str, tuple[cst.BaseExpression, ...]] = field(default_factory=dict)  # list name -> layers

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def without(self, name: str) -> Scope:
        """The scope with ``name`` unbound: resolving its value must not find it again."""
        return Scope({key: value for key, value in self.values.items() if key != name}, self.added)


EMPTY = Scope()


def scope_of(function: cst.FunctionDef | None) -> Scope:
    if function is None:
        return EMPTY
    values: dict[str, list[cst.BaseExpression]] = {}
    added: dict[str, list[cst.BaseExpression]] = {}
    params = function.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        values[param.name.value] = [param.default] if param.default is not None else []
    for line in nested_statements(function.body):
        for statement in small_statements(line):
            _record(statement, values, added)
    return Scope(
        {name: tuple(found) for name, found in values.items()},
        {name: tuple(found) for name, found in added.items()},
    )


def _record(statement: cst.BaseSmallStatement, values: dict, added: dict) -> None:
    target, value = _assigned(statement)
    if isinstance(target, cst.Name):
        values.setdefault(target.value, []).extend(alternatives(value))
        added[target.value] = list(list_elements(value))
    elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):  # layers["conv"] = ...
        added.setdefault(target.value.value, []).append(value)
    elif isinstance(statement, cst.AugAssign) and isinstance(statement.target, cst.Name):
        if isinstance(statement.operator, cst.AddAssign):
            added.setdefault(statement.target.value, []).extend(list_elements(statement.value))
    elif isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Call):
        _record_call(statement.value, added)


def _assigned(statement: cst.BaseSmallStatement) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None]:
    """``(target, value)`` of ``target = value`` or ``target: T = value``."""
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        return statement.targets[0].target, statement.value
    if isinstance(statement, cst.AnnAssign) and statement.value is not None:
        return statement.target, statement.value
    return None, None


def _record_call(call: cst.Call, added: dict) -> None:
    """``layers.append(x)``, ``layers.extend([...])``, ``seq.add_module("name", x)``."""
    name = callee(call) or ""
    owner, _, method = name.rpartition(".")
    if not owner or method not in ADDING_METHODS or len(call.args) <= ADDING_METHODS[method]:
        return
    value = call.args[ADDING_METHODS[method]].value
    elements = list_elements(value) if method == "extend" else [value]
    added.setdefault(owner, []).extend(elements)


def alternatives(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """``a or b`` and ``a if c else b`` may each hold either value."""
    if isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or):
        return [*alternatives(value.left), *alternatives(value.right)]
    if isinstance(value, cst.IfExp):
        return [*alternatives(value.body), *alternatives(value.orelse)]
    return [value]


def list_elements(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The layers a list literal, a comprehension or a generator holds (one for a comprehension)."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return [element.value for element in value.elements if not isinstance(element, cst.StarredElement)]
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        return [value.elt]
    return []


def factory_call(call: cst.Call, value: cst.BaseExpression) -> tuple[cst.Call, str] | None:
    """``call`` made through ``value`` (``nn.BatchNorm2d`` or ``partial(nn.BatchNorm2d, eps=1e-3)``).

    Returns the equivalent direct call and the name of what it calls, or None when
    ``value`` is not a name or a partial of one.
    """
    direct = dotted_name(value)
    if direct is not None and direct != "None":
        return call.with_changes(func=value), direct
    if isinstance(value, cst.Call) and callee(value) in PARTIAL and value.args and not value.args[0].keyword:
        target = dotted_name(value.args[0].value)
        if target is None:
            return None
        bound = list(value.args[1:])
        positional = [arg for arg in (*bound, *call.args) if arg.keyword is None and not arg.star]
        rest = [arg for arg in (*bound, *call.args) if arg.keyword is not None or arg.star]
        return cst.Call(func=value.args[0].value, args=[*positional, *rest]), target
    return None
