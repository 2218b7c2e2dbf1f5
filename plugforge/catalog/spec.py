"""The catalog: one TOML entry per block, validated into typed specs.

An entry is data. It says what a block is (identity, paper), how it is wired
(role, input and output contract), which hyperparameters it takes (types,
defaults, constraints) and how it is tested (cases, pinned parameter count).
How its code reads is the template's business, not the entry's.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any, Callable

from plugforge.errors import CatalogError, ParamError, UnknownBlockError
from plugforge.resources import catalog_dir
from plugforge.roles import ROLES, WIRED

# Where `add` puts an insert block by default: after the last conv/norm of the main branch
# (before the residual sum), or after the k x k conv (and its norm) of the main branch.
INSERT_AT = ("end", "kxk")
# How a block can start as the identity (`add --identity-init`), with what `info` says.
IDENTITY = {
    "blend": "identity_init=True adds a learnable blend x + b * (block(x) - x) with b = 0 at the start",
    "built-in": "the block is the identity at initialisation by design",
}
CATEGORIES = (
    "channel attention",
    "spatial attention",
    "hybrid attention",
    "self-attention",
    "multi-branch",
    "pyramid pooling",
    "efficient conv",
    "re-parameterisation",
    "feature fusion",
    "downsampling",
    "upsampling",
    "spatial transform",
    "basic",
    "activation",
    "other",
    "utility",
)
LAYOUTS = ("NCHW", "NCL", "NCDHW", "BNC", "NHWC", "BCNT", "BTND", "any")
MAP_LAYOUTS = ("NCHW", "any")  # the layouts that take the (B, C, H, W) map of a 2-D CNN
PARAM_TYPES = ("int", "float", "bool", "str", "list[int]", "list[float]")

# Names a parameter-count formula may call, besides the entry's parameters.
FORMULA_FUNCTIONS = {
    "abs": abs,
    "ceil": math.ceil,
    "gcd": math.gcd,
    "int": int,
    "len": len,
    "zip": zip,
    "log2": math.log2,
    "max": max,
    "min": min,
    "prod": math.prod,
    "range": range,
    "round": round,
    "sum": sum,
}
_FORMULA_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Call, ast.Name, ast.Constant, ast.Tuple, ast.List, ast.Subscript,
    ast.GeneratorExp, ast.ListComp, ast.comprehension, ast.Load, ast.Store,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip


_MISSING = object()


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    doc: str
    default: Any = _MISSING
    optional: bool = False
    min: float | None = None
    max: float | None = None
    above: float | None = None  # strict bounds: the value must be > above and < below
    below: float | None = None
    allow_inf: bool = False  # a float that may be infinite (written as float("inf")); NaN never is
    choices: tuple[str, ...] = ()
    divides: str | None = None
    odd: bool = False
    min_items: int | None = None
    pair: bool = False  # an nn.Conv2d size: the block also takes it as a square (k, k) pair

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    @property
    def is_list(self) -> bool:
        return self.type.startswith("list")

    @property
    def item_type(self) -> str:
        return self.type[5:-1] if self.is_list else self.type

    def bounds(self) -> list[tuple[Constraint, Any]]:
        """The constraints this parameter declares, in the table's order, each with its bound."""
        declared = [(c, getattr(self, c.key)) for c in CONSTRAINTS]
        return [(c, bound) for c, bound in declared if bound is not None and bound is not False and bound != ()]

    def constraints(self) -> list[str]:
        """Human-readable constraints, as `info` and error messages show them."""
        each = "each " if self.is_list else ""
        found = [(each if c.scope == "item" else "") + c.words(bound) for c, bound in self.bounds()]
        return found + (["or none"] if self.optional else [])

    def rules(self) -> list[Rule]:
        """The parameter's constraints as rules that hold for a fitting value (a scalar's, not a list's)."""
        if self.is_list or self.type != "int":
            return []
        found = []
        for c, bound in self.bounds():
            rule = c.condition("holds", self.name, bound)
            names = {self.name, bound} if c.scope == "relation" else {self.name}
            found.append(Rule(f"{self.name} is None or {rule}" if self.optional else rule, "", frozenset(names)))
        return found

    def describe(self) -> str:
        """Type plus constraints, e.g. ``list[int] (each >= 1, each odd)``."""
        constraints = self.constraints()
        return f"{self.type} ({', '.join(constraints)})" if constraints else self.type

    def parse(self, text: str) -> Any:
        """Parse a ``--set`` value and check it; raise ParamError naming the fix."""
        text = text.strip()
        if self.optional and text.lower() in ("none", "null"):
            return None
        try:
            if self.is_list:
                items = [t for t in text.strip("[]()").split(",") if t.strip()]
                value = [_parse_scalar(self.item_type, t.strip()) for t in items]
            else:
                value = _parse_scalar(self.type, text)
        except ValueError:
            raise ParamError(f"--set {self.name}={text}: expected {self._expected()}") from None
        try:
            self.check(value)
        except ParamError as error:
            raise ParamError(f"--set {self.name}={text}: {error}") from None
        return value

    def check(self, value: Any) -> None:
        """Check a value against the type and the constraints this parameter alone can decide."""
        if value is None and self.optional:
            return
        if not _has_type(self.type, value):
            raise ParamError(f"{self.name} must be {self._expected()}, got {value!r}")
        items = value if self.is_list else [value]
        if any(isinstance(item, float) and not self._finite_enough(item) for item in items):
            allowed = "a number or inf" if self.allow_inf else "a finite number"
            raise ParamError(f"{self.name} must be {allowed}, got {literal(value)}")
        for c, bound in self.bounds():
            if c.scope == "length" and c.breaks(bound, items):
                raise ParamError(c.error(self.name, bound, repr(value)))
        if any(c.scope == "item" and c.breaks(bound, item) for c, bound in self.bounds() for item in items):
            raise ParamError(f"{self.name} must be {self.describe()}, got {value!r}")

    def _finite_enough(self, item: float) -> bool:
        """NaN never passes; an infinity only where the entry allows it."""
        return math.isfinite(item) or (self.allow_inf and not math.isnan(item))

    def _expected(self) -> str:
        if self.is_list:
            example = "3,5,7" if self.item_type == "int" else "0.5,1.0"
            return f"{self.describe()}, comma-separated, e.g. {self.name}={example}"
        if self.type == "bool":
            return f"{self.describe()}: true or false"
        return self.describe()


def literal(value: Any) -> str:
    """Python source for a validated value; lists become tuples, infinities ``float("inf")``."""
    if isinstance(value, (list, tuple)):
        items = [literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'  # inf, -inf, nan: repr() would be a bare name
    return repr(value)


def _parse_scalar(kind: str, text: str) -> Any:
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(text)
    return text


def _has_type(kind: str, value: Any) -> bool:
    if kind.startswith("list"):
        return isinstance(value, (list, tuple)) and all(_has_type(kind[5:-1], v) for v in value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


# -- constraints -----------------------------------------------------------------------
# One table of what an entry may declare on a parameter's values. Catalog validation,
# the rendered constructor's checks and the rendered tests' invalid cases all read it,
# so a constraint is written once: the catalog evaluates the very condition the
# rendered constructor tests.


@dataclass(frozen=True)
class Constraint:
    """One key of ``[params.NAME]`` that constrains the values, said three ways.

    ``holds`` and ``broken`` are Python source over ``{x}`` (the value, or one item of a
    list) and ``{b}`` (the bound: a literal, or the other parameter's name for a relation);
    ``says`` is the constraint in words; ``tells`` the error for a broken length or relation
    over the names and their values ``{xv}`` and ``{bv}`` (the items' errors name all of a
    parameter's constraints at once); ``breaking`` gives a value that breaks it from the
    parameter and the item (the list, for a length) in use.
    """

    key: str
    scope: str  # "item": each value (each item of a list); "length": a list's length; "relation": another parameter
    holds: str
    broken: str
    says: str
    tells: str = ""
    breaking: Callable[[Param, Any], Any] | None = None

    def condition(self, form: str, x: str, bound: Any) -> str:
        """The ``holds`` or ``broken`` condition on ``x`` (a name or an expression)."""
        source = bound if self.scope == "relation" else repr(bound)
        return getattr(self, form).format(x=x, b=source)

    def words(self, bound: Any) -> str:
        listed = ", ".join(repr(item) for item in bound) if isinstance(bound, tuple) else ""
        return self.says.format(b=bound, listed=listed, items="item" if bound == 1 else "items")

    def error(self, x: str, bound: Any, xv: str, bv: str = "") -> str:
        return self.tells.format(x=x, b=bound, says=self.words(bound), xv=xv, bv=bv)

    def breaks(self, bound: Any, value: Any) -> bool:
        return bool(evaluate(self.condition("broken", "x", bound), {"len": len, "x": value}))


def _beyond(p: Param, bound: float, steps: int) -> float:
    """``steps`` past ``bound``: whole steps for an int, half steps (a float, even from an int bound) for a float."""
    return bound + steps * (1 if p.item_type == "int" else 0.5)


CONSTRAINTS = (
    Constraint("min_items", "length", "len({x}) >= {b}", "len({x}) < {b}", "at least {b} {items}",
               "{x} needs {says}, got {xv}", lambda p, items: list(items[: p.min_items - 1])),
    Constraint("min", "item", "{x} >= {b}", "{x} < {b}", ">= {b}", breaking=lambda p, item: _beyond(p, p.min, -1)),
    Constraint("max", "item", "{x} <= {b}", "{x} > {b}", "<= {b}", breaking=lambda p, item: _beyond(p, p.max, 1)),
    Constraint("above", "item", "{x} > {b}", "{x} <= {b}", "> {b}", breaking=lambda p, item: _beyond(p, p.above, 0)),
    Constraint("below", "item", "{x} < {b}", "{x} >= {b}", "< {b}", breaking=lambda p, item: _beyond(p, p.below, 0)),
    Constraint("odd", "item", "{x} % 2 == 1", "{x} % 2 == 0", "odd",
               breaking=lambda p, item: (item if item is not None else int(p.min or 1) | 1) + 1),
    Constraint("choices", "item", "{x} in {b}", "{x} not in {b}", "one of {listed}", breaking=lambda p, item: "not-a-choice"),
    Constraint("divides", "relation", "{b} % {x} == 0", "{b} % {x}", "divides {b}",
               "{b} ({bv}) must be divisible by {x} ({xv})"),
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """A constraint between parameters, as a Python expression that must be true (``[[rules]]``)."""

    require: str
    why: str
    names: frozenset[str]  # the parameters it reads: it is checked once all of them are known

    def check(self, values: dict[str, Any]) -> None:
        if not self.names <= values.keys():
            return
        if not evaluate(self.require, {**FORMULA_FUNCTIONS, **values}):
            given = ", ".join(f"{name}={literal(values[name])}" for name in sorted(self.names))
            raise ParamError(f"{self.require} must hold ({self.why}); got {given}")


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    venue: str
    year: int
    arxiv: str | None = None
    url: str | None = None

    @property
    def link(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else self.url

    def cite(self) -> str:
        return f'{self.authors}, "{self.title}", {self.venue} {self.year}'


@dataclass(frozen=True)
class Contract:
    layout: str
    channels: str  # input: the parameter that receives the channels; output: an expression
    stride: str = ""  # output only: the parameter or expression that divides H and W
    scale: str = ""  # output only: the parameter or expression that multiplies H and W
    names: tuple[str, ...] = ()  # several tensors: forward(*names) / a returned tuple
    shapes: tuple[str, ...] = ()  # hand-written shape per name, for the docstring and `info`
    size: str = ""  # output only: H_out from H (T_out from T, L_out from L) and the parameters

    # {C} is the channels; {H}, {W}, {T} and {L} the sides that stride and size act on.
    _DIMS = {"NCHW": "(B, {C}, {H}, {W})", "NCL": "(B, {C}, {L})", "NCDHW": "(B, {C}, D, {H}, {W})",
             "BNC": "(B, N, {C})", "NHWC": "(B, {H}, {W}, {C})", "BCNT": "(B, {C}, N, {T})",
             "BTND": "(B, {T}, N, {C})", "any": "(*)"}  # fmt: skip

    def describe(self, symbol: str = "C") -> list[str]:
        """One ``name: shape`` line per tensor (a single line when there is one tensor)."""
        if not self.names:
            return [self.shape(symbol)]
        return [f"{name}: {shape}" for name, shape in zip(self.names, self.shapes)]

    def shape(self, symbol: str = "C") -> str:
        sides = {side: f"{side}_out" if self.size else self._side(side) for side in self._sides()}
        return self._DIMS[self.layout].format(C=symbol, **sides)

    def size_note(self) -> str | None:
        """How the output's sides follow from the input's, where the shape names them ``H_out``..."""
        if not self.size:
            return None
        first, *others = self._sides()
        return f"{first}_out = {self.size}" + "".join(f", {side}_out likewise from {side}" for side in others)

    def output_shape(self, values: dict[str, Any], input_shape: list[int], channels: str) -> tuple[int, ...] | None:
        """The output shape this (output) contract gives for one input tensor of the same layout.

        ``channels`` is the parameter that receives the input's channels. None where the
        shape is hand-written (several tensors) or the input does not have the layout's rank.
        """
        dims = self._DIMS[self.layout].strip("()").split(", ")
        if self.names or self.layout == "any" or len(input_shape) != len(dims):
            return None
        scope = {**FORMULA_FUNCTIONS, **values, "C": input_shape[dims.index("{C}")]}
        if channels:
            scope[channels] = scope["C"]
        first = next(iter(self._sides()), "")
        shape = list(input_shape)
        for index, dim in enumerate(dims):
            if dim == "{C}" and self.channels:
                shape[index] = evaluate(self.channels, scope)
            elif dim.strip("{}") in self._sides():
                shape[index] = evaluate(self.size or self._side(first), {**scope, first: input_shape[index]})
        return tuple(shape)

    def _sides(self) -> list[str]:
        return re.findall(r"\{([HWTL])\}", self._DIMS[self.layout])

    def _side(self, side: str) -> str:
        if self.stride:
            return f"ceil({side} / {self.stride})"
        return f"{side} * {self.scale}" if self.scale else side


@dataclass(frozen=True)
class TestCase:
    params: dict[str, Any]
    inputs: list[list[int]]
    outputs: list[list[int]]
    param_count: int
    # Parameters whose gradient is zero by the math for these params (a bias before a
    # BatchNorm in training, a logit bias under a softmax): the rendered test asserts
    # that they get none instead of asserting that they get some.
    zero_gradient: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvalidCase:
    params: dict[str, Any]
    match: str


@dataclass(frozen=True)
class MapSize:
    """Which H x W maps the method takes: ``fits`` is an expression over H, W and the parameters.

    ``needs`` says the rule in words; ``adjust`` is the parameter to change when a map does not fit.
    """

    fits: str
    needs: str
    adjust: str


@dataclass(frozen=True)
class BlockSpec:
    id: str
    class_name: str
    module: str
    aliases: tuple[str, ...]
    summary: str
    description: str
    category: str
    paper: Paper
    role: str
    template: str
    uses: tuple[str, ...]
    placement: str
    insert_at: str
    input: Contract
    output: Contract
    params: dict[str, Param]
    rules: tuple[Rule, ...]
    param_formula: str
    param_where: dict[str, str]
    tests: tuple[TestCase, ...]
    invalid: tuple[InvalidCase, ...]
    export_xfail: str | None
    identity: str | None  # a key of IDENTITY, or None when the block cannot start as the identity
    path: Path = field(compare=False)
    map_size: MapSize | None = None  # None: any H and W
    extra_tests: bool = True  # tests of its own in templates/tests/, beside the generic ones
    notes: str = ""  # other implementations and how their weights load: for `info`, not the docstring

    @property
    def tests_template(self) -> str | None:
        """The block's own tests, included into its rendered tests: templates/tests/<its template>."""
        return f"tests/{self.template}" if self.extra_tests else None

    @property
    def helpers(self) -> tuple[str, ...]:
        """The shared helpers rendered into the block's file: the entry's, and ``square_size`` for pair sizes."""
        pairs = ("square_size",) if any(p.pair for p in self.params.values()) else ()
        return tuple(dict.fromkeys((*self.uses, *pairs)))

    @property
    def resample(self) -> tuple[str, str] | tuple[()]:
        """``("down", factor)`` or ``("up", factor)`` for a block that changes the map size, else ``()``."""
        if self.output.stride:
            return ("down", self.output.stride)
        return ("up", self.output.scale) if self.output.scale else ()

    def all_rules(self) -> list[Rule]:
        """Every rule on constructor arguments: each parameter's own constraints, then the entry's ``[[rules]]``."""
        return [rule for param in self.params.values() for rule in param.rules()] + list(self.rules)

    def defaults(self) -> dict[str, Any]:
        """Every parameter that has a default, with it."""
        return {name: p.default for name, p in self.params.items() if not p.required}

    def resolve(self, overrides: dict[str, str], known: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``--set`` strings, parsed and checked: the one place they become typed values.

        ``known`` gives parameters without a default (the channels) their values, for a
        caller that builds the block itself (`bench`); such a caller may ``--set`` them too.
        Without it, they are passed where the block is constructed and cannot be set.
        """
        values = {**self.defaults(), **(known or {})}
        for name, text in overrides.items():
            param = self.param(name)
            if param.required and known is None:
                raise ParamError(
                    f"--set {name}: {name} has no default and is passed when the block is constructed "
                    f"(`plugforge add` infers it from your model); set only: {', '.join(self.defaults())}"
                )
            values[name] = param.parse(text)
        self.check_relations(values)
        return values

    def param(self, name: str) -> Param:
        if name not in self.params:
            hint = difflib.get_close_matches(name, self.params, n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ParamError(
                f"{self.id} has no parameter {name!r}.{suggestion} "
                f"Parameters: {', '.join(self.params)} (see `plugforge info {self.id}`)."
            )
        return self.params[name]

    def check_relations(self, values: dict[str, Any]) -> None:
        """Check constraints between parameters whose values are all known."""
        for rule in self.rules:
            rule.check(values)
        for p in self.params.values():
            for c, bound in p.bounds():
                if c.scope == "relation" and values.get(p.name) and values.get(bound) is not None:
                    if evaluate(c.condition("broken", p.name, bound), values):
                        raise ParamError(f"{p.name}: " + c.error(p.name, bound, values[p.name], values[bound]))

    def map_sizes(self, values: dict[str, Any]) -> str | None:
        """The map-size rule for these values in words, with the square maps it takes; None when any map fits."""
        if self.map_size is None:
            return None
        sides = [side for side in range(1, _LARGEST_SIDE + 1) if self._fits(values, None, side, side)]
        if len(sides) == _LARGEST_SIDE:
            return None
        shown = ", ".join(f"{s}x{s}" for s in sides[:4]) + (", ..." if len(sides) > 4 else "")
        if sides and sides == list(range(1, sides[-1] + 1)) and len(sides) > 4:
            shown = f"1x1 to {sides[-1]}x{sides[-1]}"
        return f"{self.map_size.needs} (with {self._adjusted(values)}: {shown or 'no square map'})"

    def map_problem(self, values: dict[str, Any], maps: list[tuple[int, int, int]]) -> str | None:
        """Why the (C, H, W) ``maps`` that reach the block do not fit its map-size rule, with the setting that works."""
        rule = self.map_sizes(values)
        wrong = [m for m in dict.fromkeys(maps) if not self._fits(values, *m)]
        if rule is None or not wrong:
            return None
        shown = ", ".join(f"{h}x{w}" for _, h, w in dict.fromkeys(maps))
        message = f"{self.id} needs {rule}; the maps that reach it are {shown}"
        working = self._working_values(values, list(dict.fromkeys(maps)))
        if working:
            sets = " or ".join(f"--set {self.map_size.adjust}={_cli_value(v)}" for v in working)
            return f"{message}: use {sets}"
        return (
            f"{message}, and no {self.map_size.adjust} fits them all: wire it where every map has one size "
            f"that fits, or render it with `plugforge new {self.id}` and call it where it fits"
        )

    def _fits(self, values: dict[str, Any], channels: int | None, height: int, width: int) -> bool:
        assert self.map_size is not None
        scope = {**FORMULA_FUNCTIONS, **values, "H": height, "W": width}
        if channels is not None and self.input.channels:
            scope[self.input.channels] = channels
        return bool(evaluate(self.map_size.fits, scope))

    def _adjusted(self, values: dict[str, Any]) -> str:
        name = self.map_size.adjust if self.map_size else ""
        return f"{name}={_cli_value(values.get(name))}"

    def _working_values(self, values: dict[str, Any], maps: list[tuple[int, int, int]]) -> list[Any]:
        """Values of ``adjust`` under which every map fits: the closest to the current one, and None if it fits."""
        param = self.params[self.map_size.adjust] if self.map_size else None
        if param is None or param.type != "int":
            return []
        largest = max(h * w for _, h, w in maps)
        found = [v for v in range(1, largest + 1) if self._fits_all({**values, param.name: v}, maps, param)]
        current = values.get(param.name) or 0
        working = sorted(found, key=lambda v: (abs(v - current), v))[:1]
        if param.optional and self._fits_all({**values, param.name: None}, maps, param):
            working.append(None)
        return working

    def _fits_all(self, values: dict[str, Any], maps: list[tuple[int, int, int]], param: Param) -> bool:
        try:
            param.check(values[param.name])
            for channels, height, width in maps:
                self.check_relations({**values, self.input.channels: channels})
                if not self._fits(values, channels, height, width):
                    return False
        except ParamError:
            return False
        return True

    def broken_rules(self, values: dict[str, Any]) -> list[Rule]:
        """The rules (``all_rules()``) that ``values`` break; rules naming a value not given are skipped."""
        scope = {**FORMULA_FUNCTIONS, **values}
        return [rule for rule in self.all_rules() if rule.names <= scope.keys() and not evaluate(rule.require, scope)]

    def fitting_setting(self, values: dict[str, Any], fixed: set[str]) -> tuple[str, int] | None:
        """``(parameter, value)``: the one change of a settable int parameter that makes every rule hold.

        Values below the current one are tried first, nearest first (a group count
        falls to a divisor of the width), then values above it.
        """
        names = {name for rule in self.broken_rules(values) for name in rule.names}
        for name in sorted(names - fixed):
            param = self.params.get(name)
            current = values.get(name)
            if param is None or param.type != "int" or param.required or not isinstance(current, int):
                continue
            for value in [*range(current - 1, 0, -1), *range(current + 1, 4 * current + 9)]:
                try:
                    param.check(value)
                except ParamError:
                    continue
                if not self.broken_rules({**values, name: value}):
                    return name, value
        return None

    def count_params(self, values: dict[str, Any]) -> int:
        """Evaluate the entry's parameter-count formula (derived from the paper)."""
        scope = {**FORMULA_FUNCTIONS, **self.defaults(), **values}
        for name, expression in self.param_where.items():
            scope[name] = evaluate(expression, scope)
        blend = self.identity == "blend" and scope.get("identity_init")
        return evaluate(self.param_formula, scope) + (1 if blend else 0)

    @property
    def multi_input(self) -> bool:
        return bool(self.input.names)

    # -- what the block can be used for: each caller words its own refusal ------------------

    @property
    def is_function(self) -> bool:
        """A utility function (``fuse_conv_bn``), not an nn.Module."""
        return self.role == "utility"

    @property
    def fuses(self) -> bool:
        """It combines several feature maps (role fuse, or named inputs), so no single layer feeds it."""
        return self.role == "fuse" or self.multi_input

    @property
    def takes_maps(self) -> bool:
        """Its input is the (B, C, H, W) map of a 2-D CNN (layout NCHW, or any layout)."""
        return self.input.layout in MAP_LAYOUTS

    @property
    def takes_one_map(self) -> bool:
        """A module called on one (B, C, H, W) map: what `add` wires next to a layer and `bench` measures."""
        return self.role in WIRED and not self.fuses and self.takes_maps

    @property
    def multi_output(self) -> bool:
        return bool(self.output.names)


_LARGEST_SIDE = 1024  # square maps up to this side are tried to say which sizes fit (a 1024x1024 stem map)


def _cli_value(value: Any) -> str:
    return "none" if value is None else str(value)


def evaluate(expression: str, scope: dict[str, Any]) -> Any:
    """Evaluate a catalog expression (formula, output width) over parameter values."""
    # The scope is the globals so that generator expressions see parameters and functions too.
    return eval(_compiled(expression), {"__builtins__": {}, **scope})  # noqa: S307


@functools.lru_cache(maxsize=None)
def _compiled(expression: str) -> CodeType:
    return compile(expression, "<formula>", "eval")


# -- loading ---------------------------------------------------------------------------


class _Entry:
    """Reads one TOML table and reports problems as `file: key: problem`."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str = ""):
        self.path, self.table, self.prefix = path, table, prefix

    def fail(self, key: str, problem: str) -> CatalogError:
        return CatalogError(f"{self.path.name}: {self.prefix}{key}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        if key not in self.table:
            if default is _MISSING:
                raise self.fail(key, "is required")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be a {names}, got {value!r}")
        return value

    def sub(self, key: str, default: Any = _MISSING) -> _Entry:
        return _Entry(self.path, self.get(key, dict, default), f"{self.prefix}{key}.")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                raise self.fail(key, "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""))


_ENTRY_KEYS = {
    "id", "class", "module", "aliases", "summary", "description", "category", "paper",
    "role", "template", "uses", "placement", "input", "output", "params", "param_count",
    "tests", "invalid", "export_xfail", "identity", "rules", "insert_at", "map_size", "extra_tests", "notes",
}  # fmt: skip
_PARAM_KEYS = {"type", "doc", "default", "optional", "allow_inf", "pair"} | {c.key for c in CONSTRAINTS}


def load_entry(
    path: Path, templates: set[str] | None = None, helpers: set[str] | None = None, tests: set[str] | None = None
) -> BlockSpec:
    """Read and validate one catalog file; the known block, helper and tests templates, where given, are checked."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{path.name}: invalid TOML: {error}") from None
    entry = _Entry(path, table)
    entry.check_keys(_ENTRY_KEYS)

    block_id = entry.get("id", str)
    if not block_id.isidentifier() or block_id != block_id.lower():
        raise entry.fail("id", f"must be a lower-case identifier, got {block_id!r}")
    if path.stem != block_id:
        raise entry.fail("id", f"must match the file name ({path.stem!r}), got {block_id!r}")
    class_name = entry.get("class", str)
    if not class_name.isidentifier():
        raise entry.fail("class", f"must be a Python identifier, got {class_name!r}")
    module = entry.get("module", str, block_id)
    if not module.isidentifier() or module in sys.stdlib_module_names:
        raise entry.fail("module", f"{module!r} must be an identifier that shadows no standard-library module")
    category = entry.get("category", str)
    if category not in CATEGORIES:
        raise entry.fail("category", f"must be one of {', '.join(CATEGORIES)}; got {category!r}")
    role = entry.get("role", str)
    if role not in ROLES:
        raise entry.fail("role", f"must be one of {', '.join(ROLES)}; got {role!r}")

    template = entry.get("template", str, f"{block_id}.py.j2")
    if templates is not None and template not in templates:
        raise entry.fail("template", f"no template {template!r} in templates/blocks/")
    uses = tuple(entry.get("uses", list, []))
    for helper in uses:
        if helpers is not None and helper not in helpers:
            raise entry.fail("uses", f"no helper template {helper!r} in templates/helpers/")

    utility = role == "utility"  # a function: no constructor, tests of its own
    extra_tests = _load_extra_tests(entry, template, tests, utility)
    params = _load_params(entry.sub("params", {}))
    contracts = [_load_contract(entry.sub(key, {} if utility else _MISSING), params, key == "input") for key in ("input", "output")]
    inputs, outputs = contracts
    arity = (max(1, len(inputs.names)), max(1, len(outputs.names)))
    formula = entry.sub("param_count", {"formula": "0"} if utility else _MISSING)
    formula.check_keys({"formula", "where"})
    spec = BlockSpec(
        id=block_id,
        class_name=class_name,
        module=module,
        aliases=tuple(a.lower() for a in entry.get("aliases", list, [])),
        summary=entry.get("summary", str),
        description=entry.get("description", str, "").strip(),
        category=category,
        paper=_load_paper(entry.sub("paper")),
        role=role,
        template=template,
        uses=uses,
        placement=entry.get("placement", str, ""),
        insert_at=_one_of(entry, "insert_at", INSERT_AT, "end"),
        input=inputs,
        output=outputs,
        params=params,
        rules=tuple(_load_rule(entry, i, t, params) for i, t in enumerate(entry.get("rules", list, []))),
        param_formula=_check_formula(formula, "formula", formula.get("formula", str)),
        param_where={
            k: _check_formula(formula, f"where.{k}", v) for k, v in formula.get("where", dict, {}).items()
        },
        tests=tuple(_load_test(entry, i, t, arity) for i, t in enumerate(entry.get("tests", list, [] if utility else _MISSING))),
        invalid=tuple(_load_invalid(entry, i, t) for i, t in enumerate(entry.get("invalid", list, []))),
        export_xfail=entry.get("export_xfail", str, None),
        identity=_load_identity(entry, params),
        path=path,
        map_size=_load_map_size(entry, params),
        extra_tests=extra_tests,
        notes=entry.get("notes", str, "").strip(),
    )
    if not spec.tests and not utility:
        raise entry.fail("tests", "needs at least one [[tests]] case")
    try:
        spec.check_relations(spec.defaults())
    except ParamError as error:
        raise entry.fail("rules", f"the defaults break a rule: {error}") from None
    for index, case in enumerate(spec.tests):
        _check_case_params(entry, f"tests[{index}].params", spec, case.params)
        try:
            spec.check_relations({**spec.defaults(), **case.params})
        except ParamError as error:
            raise entry.fail(f"tests[{index}].params", str(error)) from None
        counted = _count(entry, spec, index, case)
        if counted != case.param_count:
            raise entry.fail(
                f"tests[{index}].param_count",
                f"is {case.param_count}, but param_count.formula gives {counted} for these params",
            )
    for index, case in enumerate(spec.tests):
        values = {**spec.defaults(), **case.params}
        for shape in case.inputs if spec.map_size else ():
            if not spec._fits(values, shape[1], shape[2], shape[3]):
                raise entry.fail(f"tests[{index}].inputs", f"{shape} does not fit map_size.fits ({spec.map_size.fits})")
    if spec.identity and not any(i == o for case in spec.tests for i, o in zip(case.inputs, case.outputs)):
        raise entry.fail("identity", "needs a [[tests]] case whose output shape equals its input shape")
    for index, case in enumerate(spec.invalid):
        for name in case.params:
            if name not in params:
                raise entry.fail(f"invalid[{index}].params", f"unknown parameter {name!r}")
    return spec


def _one_of(entry: _Entry, key: str, choices: tuple[str, ...], default: str) -> str:
    value = entry.get(key, str, default)
    if value not in choices:
        raise entry.fail(key, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _load_extra_tests(entry: _Entry, template: str, tests: set[str] | None, utility: bool) -> bool:
    """Whether the block has tests of its own; declared and on disk must agree, so that none are dropped."""
    extra = entry.get("extra_tests", bool, True)
    if utility and not extra:
        raise entry.fail("extra_tests", "a utility has no generic tests: it needs its own")
    if tests is not None and extra and template not in tests:
        raise entry.fail("extra_tests", f"no template tests/{template}: write the block's own tests, or set extra_tests = false")
    if tests is not None and not extra and template in tests:
        raise entry.fail("extra_tests", f"is false, but templates/tests/{template} exists: drop the one or the other")
    return extra


def _load_identity(entry: _Entry, params: dict[str, Param]) -> str | None:
    """The identity-start method; blend needs a bool ``identity_init`` parameter, off by default.

    (A zero-initialised last layer is no method: a host network's init loop overwrites it.)
    """
    method = entry.get("identity", str, None)
    if method is not None and method not in IDENTITY:
        raise entry.fail("identity", f"must be one of {', '.join(IDENTITY)}; got {method!r}")
    switch = params.get("identity_init")
    needs_switch = method == "blend"
    if needs_switch and (switch is None or switch.type != "bool" or switch.default is not False):
        raise entry.fail("identity", f"{method!r} needs a bool parameter identity_init with default false")
    if switch is not None and not needs_switch:
        raise entry.fail("params.identity_init", 'is only for identity = "blend"')
    return method


def _load_map_size(entry: _Entry, params: dict[str, Param]) -> MapSize | None:
    """``[map_size]``: the rule on H and W where the method cannot take every map."""
    if "map_size" not in entry.table:
        return None
    table = entry.sub("map_size")
    table.check_keys({"fits", "needs", "adjust"})
    adjust = table.get("adjust", str)
    if adjust not in params:
        raise table.fail("adjust", f"names no parameter: {adjust!r}")
    return MapSize(_check_formula(table, "fits", table.get("fits", str)), table.get("needs", str), adjust)


def _load_params(entry: _Entry) -> dict[str, Param]:
    params = {}
    for name in entry.table:
        if not name.isidentifier():
            raise entry.fail(name, "parameter names must be Python identifiers")
        sub = entry.sub(name)
        sub.check_keys(_PARAM_KEYS)
        kind = sub.get("type", str)
        if kind not in PARAM_TYPES:
            raise sub.fail("type", f"must be one of {', '.join(PARAM_TYPES)}; got {kind!r}")
        param = Param(
            name=name,
            type=kind,
            doc=sub.get("doc", str),
            default=sub.table.get("default", None if sub.table.get("optional") else _MISSING),
            optional=sub.get("optional", bool, False),
            min=sub.get("min", (int, float), None),
            max=sub.get("max", (int, float), None),
            above=sub.get("above", (int, float), None),
            below=sub.get("below", (int, float), None),
            allow_inf=sub.get("allow_inf", bool, False),
            choices=tuple(sub.get("choices", list, [])),
            divides=sub.get("divides", str, None),
            odd=sub.get("odd", bool, False),
            min_items=sub.get("min_items", int, None),
            pair=sub.get("pair", bool, False),
        )
        if param.allow_inf and param.item_type != "float":
            raise sub.fail("allow_inf", "only float parameters can be infinite")
        if param.pair and param.type != "int":
            raise sub.fail("pair", "only int parameters (nn.Conv2d sizes) take pairs")
        if param.choices and param.type != "str":
            raise sub.fail("choices", "only str parameters take choices")
        if param.type == "str" and not param.choices:
            raise sub.fail("choices", "str parameters must list their choices")
        if not param.required:
            try:
                param.check(param.default)
            except ParamError as error:
                raise sub.fail("default", str(error)) from None
        params[name] = param
    for param in params.values():
        if param.divides and param.divides not in params:
            raise entry.fail(f"{param.name}.divides", f"names no parameter: {param.divides!r}")
    return params


def _load_contract(entry: _Entry, params: dict[str, Param], is_input: bool) -> Contract:
    entry.check_keys({"layout", "channels", "names", "shapes"} | (set() if is_input else {"stride", "scale", "size"}))
    layout = entry.get("layout", str, "any" if not entry.table else _MISSING)
    if layout not in LAYOUTS:
        raise entry.fail("layout", f"must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    channels = entry.get("channels", str, "")
    if is_input and channels and channels not in params:
        raise entry.fail("channels", f"names no parameter: {channels!r}")
    names = tuple(entry.get("names", list, []))
    shapes = tuple(entry.get("shapes", list, []))
    if names and (len(names) < 2 or not all(isinstance(n, str) and n.isidentifier() for n in names)):
        raise entry.fail("names", "must list two or more identifiers, one per tensor")
    if len(shapes) != len(names):
        raise entry.fail("shapes", f"needs one shape description per name ({len(names)}), got {len(shapes)}")
    stride, scale, size = ("", "", "") if is_input else tuple(entry.get(key, str, "") for key in ("stride", "scale", "size"))
    if stride and scale:
        raise entry.fail("scale", "a block either downsamples (stride) or upsamples (scale), not both")
    size = size and _check_formula(entry, "size", size)
    return Contract(layout, channels, stride, scale, names, shapes, size)


def _load_rule(entry: _Entry, index: int, table: Any, params: dict[str, Param]) -> Rule:
    rule = _Entry(entry.path, table, f"rules[{index}].")
    rule.check_keys({"require", "why"})
    require = _check_formula(rule, "require", rule.get("require", str))
    names = {node.id for node in ast.walk(ast.parse(require, mode="eval")) if isinstance(node, ast.Name)}
    unknown = names - params.keys() - FORMULA_FUNCTIONS.keys()
    if unknown:
        raise rule.fail("require", f"names no parameter: {', '.join(sorted(unknown))}")
    return Rule(require, rule.get("why", str), frozenset(names & params.keys()))


def _load_paper(entry: _Entry) -> Paper:
    entry.check_keys({"title", "authors", "venue", "year", "arxiv", "url"})
    paper = Paper(
        title=entry.get("title", str),
        authors=entry.get("authors", str),
        venue=entry.get("venue", str),
        year=entry.get("year", int),
        arxiv=entry.get("arxiv", str, None),
        url=entry.get("url", str, None),
    )
    if not paper.link:
        raise entry.fail("arxiv", "give the paper's arxiv id or a url")
    return paper


def _load_test(entry: _Entry, index: int, table: Any, arity: tuple[int, int]) -> TestCase:
    case = _Entry(entry.path, table, f"tests[{index}].")
    case.check_keys({"params", "inputs", "outputs", "param_count", "zero_gradient"})
    inputs, outputs = case.get("inputs", list), case.get("outputs", list)
    for key, shapes, count in (("inputs", inputs, arity[0]), ("outputs", outputs, arity[1])):
        if not shapes or not all(_is_call(s, count) for s in shapes):
            what = "shapes (lists of ints)" if count == 1 else f"groups of {count} shapes, one per name"
            raise case.fail(key, f"must be a non-empty list of {what}")
    if len(inputs) != len(outputs):
        raise case.fail("outputs", f"needs one shape per input ({len(inputs)}), got {len(outputs)}")
    zero_gradient = case.get("zero_gradient", list, [])
    if not all(isinstance(name, str) and name for name in zero_gradient):
        raise case.fail("zero_gradient", "must be a list of parameter names, e.g. ['attn.bias']")
    return TestCase(case.get("params", dict, {}), inputs, outputs, case.get("param_count", int), tuple(zero_gradient))


def _is_call(value: Any, count: int) -> bool:
    """A shape (count 1) or a list of ``count`` shapes."""
    if count == 1:
        return isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in value)
    return isinstance(value, list) and len(value) == count and all(_is_call(v, 1) for v in value)


def _load_invalid(entry: _Entry, index: int, table: Any) -> InvalidCase:
    case = _Entry(entry.path, table, f"invalid[{index}].")
    case.check_keys({"params", "match"})
    return InvalidCase(case.get("params", dict), case.get("match", str))


def _check_case_params(entry: _Entry, key: str, spec: BlockSpec, values: dict[str, Any]) -> None:
    for name, param in spec.params.items():
        if param.required and name not in values:
            raise entry.fail(key, f"must give the required parameter {name!r}")
    for name, value in values.items():
        if name not in spec.params:
            raise entry.fail(key, f"unknown parameter {name!r}")
        try:
            spec.params[name].check(value)
        except ParamError as error:
            raise entry.fail(key, str(error)) from None


def _check_formula(entry: _Entry, key: str, expression: str) -> str:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise entry.fail(key, f"is not a Python expression: {error.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _FORMULA_NODES):
            raise entry.fail(key, f"may not use {type(node).__name__} (arithmetic and {', '.join(FORMULA_FUNCTIONS)} only)")
    return expression


def _count(entry: _Entry, spec: BlockSpec, index: int, case: TestCase) -> int:
    try:
        return spec.count_params(case.params)
    except Exception as error:  # noqa: BLE001 - any failure is the entry's formula at fault
        raise entry.fail("param_count.formula", f"fails for tests[{index}]: {error}") from None


# -- the catalog -----------------------------------------------------------------------


class Catalog:
    """Every entry, looked up by id or alias, case-insensitively."""

    def __init__(self, specs: list[BlockSpec]):
        self.specs = sorted(specs, key=lambda s: s.id)
        self._names: dict[str, BlockSpec] = {}
        for spec in self.specs:
            for name in (spec.id, *spec.aliases):
                other = self._names.setdefault(name, spec)
                if other is not spec:
                    raise CatalogError(f"{spec.path.name}: aliases: {name!r} is already used by {other.id!r}")

    def get(self, name: str) -> BlockSpec:
        key = name.strip().lower().replace("-", "_")
        if key in self._names:
            return self._names[key]
        close = difflib.get_close_matches(key, self._names, n=5, cutoff=0.5)
        close += [name for name in self._names if len(key) >= 2 and key in name]
        ids = list(dict.fromkeys(self._names[name].id for name in close))[:3]
        hint = f" Did you mean {' or '.join(map(repr, ids))}?" if ids else ""
        raise UnknownBlockError(f"No block named {name!r}.{hint} Run `plugforge list` to see every block.")

    def categories(self) -> list[str]:
        return [c for c in CATEGORIES if any(s.category == c for s in self.specs)]


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load and validate every entry of the catalog."""
    directory = directory or catalog_dir()
    templates, helpers, tests = _known_templates()
    specs = [load_entry(p, templates, helpers, tests) for p in sorted(directory.glob("*.toml"))]
    orphans = tests - {spec.template for spec in specs if spec.extra_tests}
    if orphans:
        raise CatalogError(
            f"templates/tests/{min(orphans)} belongs to no catalog entry: name it after its block's template "
            "(templates/tests/<id>.py.j2), or remove it"
        )
    return Catalog(specs)


def find(name: str) -> BlockSpec:
    """One entry by id or alias; an exact id loads only its own file (fast path for the CLI)."""
    path = catalog_dir() / f"{name.strip().lower().replace('-', '_')}.toml"
    if path.is_file():
        return load_entry(path, *_known_templates())
    return load_catalog().get(name)


def _known_templates() -> tuple[set[str], set[str], set[str]]:
    """The block, helper and per-block tests templates there are."""
    from plugforge.resources import templates_dir

    templates = templates_dir()
    blocks = {p.name for p in (templates / "blocks").glob("*.j2")}
    helpers = {p.name.removesuffix(".py.j2") for p in (templates / "helpers").glob("*.py.j2")}
    tests = {p.name for p in (templates / "tests").glob("*.j2")}
    return blocks, helpers, tests
