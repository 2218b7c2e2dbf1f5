"""Whether a block's rule on its constructor arguments holds for source expressions.

A rule is a Python expression over parameter names (``out_channels == in_channels``,
``kernel_size >= 3``). The arguments are source text read from the user's code:
literals are evaluated; any other expression is a symbol, whose value the source
does not tell. Two symbols with the same text are equal, and a symbol is known to
be at least the smallest value nn.Conv2d accepts for its argument, and a conv's
channels are multiples of its groups. Everything else about a symbol is unknown,
so a rule is True, False or None (cannot tell).
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass

# The smallest value nn.Conv2d accepts for each argument: what any conv's argument is known to satisfy.
CONV_MINIMUM = {
    "in_channels": 1, "out_channels": 1, "kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": 1,
}  # fmt: skip

_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip
_ARITHMETIC = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}  # fmt: skip


_FUNCTIONS = {"len": len, "min": min, "max": max}


@dataclass(frozen=True)
class Symbol:
    """An argument whose value the source does not tell: its text, and the least value it can have."""

    text: str
    name: str
    minimum: int | None = None


class _Unknown(Exception):
    pass


def value_of(text: str, name: str) -> object:
    """The value of an argument's source text: a literal (a square pair as one int), else a Symbol."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return Symbol("".join(text.split()), name, CONV_MINIMUM.get(name))
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def names_in(rule: str) -> set[str]:
    """The parameter names a rule reads (not the functions it calls)."""
    return {node.id for node in ast.walk(ast.parse(rule, mode="eval")) if isinstance(node, ast.Name)} - set(_FUNCTIONS)


def holds(rule: str, values: dict[str, object]) -> bool | None:
    """Whether ``rule`` holds for ``values`` (from ``value_of``); None when the source cannot tell.

    A rule that cannot even be computed for known values (a non-square kernel
    compared with an int) does not hold.
    """
    try:
        return bool(_evaluate(ast.parse(rule, mode="eval").body, values))
    except _Unknown:
        return None
    except (TypeError, ValueError, ZeroDivisionError):
        return False


def _evaluate(node: ast.AST, values: dict[str, object]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BoolOp):
        return _boolean(node, values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _known(_evaluate(node.operand, values))
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return _compare(node.ops[0], _evaluate(node.left, values), _evaluate(node.comparators[0], values))
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        right = _evaluate(node.right, values)
        if isinstance(node.op, ast.Mod) and (right == 1 or _channels_of_groups(_evaluate(node.left, values), right)):
            return 0  # anything is a multiple of 1, a conv's channels of its groups
        right = _known(right)
        return _ARITHMETIC[type(node.op)](_known(_evaluate(node.left, values)), right)
    if isinstance(node, ast.IfExp):
        return _evaluate(node.body if _known(_evaluate(node.test, values)) else node.orelse, values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        arguments = [_evaluate(arg, values) for arg in node.args]
        if node.func.id in ("min", "max") and any(isinstance(a, Symbol) for a in arguments):
            return _bounded(node.func.id, arguments)
        return _FUNCTIONS[node.func.id](*(_known(a) for a in arguments))
    raise _Unknown


def _boolean(node: ast.BoolOp, values: dict[str, object]) -> bool:
    """``and`` / ``or`` in three values: decided by any operand that settles it, unknown otherwise."""
    settles = isinstance(node.op, ast.Or)  # True settles an or, False an and
    unknown = False
    for operand in node.values:
        try:
            if bool(_known(_evaluate(operand, values))) == settles:
                return settles
        except _Unknown:
            unknown = True
    if unknown:
        raise _Unknown
    return not settles


def _compare(op: ast.cmpop, left: object, right: object) -> bool:
    if isinstance(op, (ast.Is, ast.IsNot)):
        if None in (left, right) and any(isinstance(v, Symbol) and v.minimum is not None for v in (left, right)):
            return isinstance(op, ast.IsNot)  # a conv argument with a least value is a number, not None
        if isinstance(left, Symbol) or isinstance(right, Symbol):
            raise _Unknown
        return (left is right) == isinstance(op, ast.Is)
    if isinstance(left, Symbol) and isinstance(right, Symbol) and left.text == right.text:
        return _COMPARE[type(op)](0, 0)  # the same expression: equal
    if isinstance(left, Symbol) and left.minimum is not None and isinstance(right, int):
        if isinstance(op, ast.GtE) and left.minimum >= right or isinstance(op, ast.Gt) and left.minimum > right:
            return True
    if isinstance(right, Symbol) and right.minimum is not None and isinstance(left, int):
        if isinstance(op, ast.LtE) and left <= right.minimum or isinstance(op, ast.Lt) and left < right.minimum:
            return True
    return _COMPARE[type(op)](_known(left), _known(right))


def _bounded(function: str, arguments: list[object]) -> Symbol:
    """min() or max() of symbols: unknown, but at least the min or max of their least values."""
    least = [a.minimum if isinstance(a, Symbol) else a for a in arguments]
    if not all(isinstance(v, int) for v in least):
        raise _Unknown
    text = f"{function}({', '.join(a.text if isinstance(a, Symbol) else repr(a) for a in arguments)})"
    return Symbol(text, "", min(least) if function == "min" else max(least))  # type: ignore[type-var]


def _channels_of_groups(left: object, right: object) -> bool:
    """Whether ``left % right`` is a conv's in or out channels modulo its groups (0, or nn.Conv2d raises)."""
    groups = isinstance(right, Symbol) and right.name == "groups"
    return groups and isinstance(left, Symbol) and left.name in ("in_channels", "out_channels")


def _known(value: object) -> object:
    if isinstance(value, Symbol):
        raise _Unknown
    return value
