"""Render a catalog entry into a self-contained block file and its pytest file.

Templates are Jinja with StrictUndefined. Every ``{{ value }}`` that is not
trusted template text goes through ``repr()`` of a validated value (see
``_finalize``), so a hyperparameter can never inject raw code. The result is
formatted with black and is byte-for-byte reproducible.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import black
import jinja2

from plugforge import __version__
from plugforge.catalog.spec import BlockSpec, Param, literal
from plugforge.errors import ParamError, RenderError
from plugforge.rendering import provenance
from plugforge.resources import templates_dir


# Module-level names a rendered file may use, and the import that provides each.
_IMPORTS = {
    "math": "import math",
    "torch": "import torch",
    "F": "import torch.nn.functional as F",
    "nn": "from torch import nn",
}


class Code(str):
    """Trusted template text (class names, docstrings): written as is."""


class PyStr(str):
    """A validated string hyperparameter: written as its ``repr()``."""


def _finalize(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises here, naming the missing value
    if isinstance(value, Code) or (isinstance(value, str) and not isinstance(value, PyStr)):
        return value
    return literal(str(value) if isinstance(value, PyStr) else value)


@dataclass(frozen=True)
class Rendered:
    block: str
    tests: str


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(
    spec: BlockSpec,
    values: dict[str, Any],
    with_tests: bool = True,
    packaged: bool = False,
    tests_import: str | None = None,
) -> Rendered:
    """Render the block file (and its tests) for fully resolved parameter ``values``.

    A ``packaged`` block lives in a package made by `plugforge vendor` and imports
    shared helpers from ``._helpers``. The tests import the block from
    ``tests_import``: by default the module beside them (relative when packaged).
    """
    env = environment()
    block = _render_block(env, spec, values, packaged)
    tests_import = tests_import or (f".{spec.module}" if packaged else spec.module)
    tests = _render_tests(env, spec, values, tests_import) if with_tests else ""
    return Rendered(block, tests)


def render_helpers(names: list[str]) -> str:
    """The ``_helpers.py`` of a vendored package: each shared helper once."""
    env = environment()
    body = "\n\n".join(_template(env, f"helpers/{name}.py.j2", {}).strip("\n") for name in names)
    note = '"""Layers shared by this package\'s blocks (`plugforge update --all` updates them)."""'
    source = "\n".join([provenance.helpers_line(__version__, names), note, "", *_imports_for(body), "", "", body, ""])
    return provenance.stamp(_format(source, "helpers"))


def header(spec: BlockSpec, values: dict[str, Any], tests_import: str | None = None, packaged: bool = False) -> str:
    """The first header line; ``provenance.stamp`` adds the hash line after formatting."""
    return provenance.first_line(__version__, spec.id, values, tests_import, packaged)


def _render_block(env: jinja2.Environment, spec: BlockSpec, values: dict[str, Any], packaged: bool) -> str:
    helpers = [_template(env, f"helpers/{name}.py.j2", {}) for name in spec.helpers]
    parts = [] if packaged else helpers
    parts.append(block_code(env, spec, values))
    body = "\n\n".join(part.strip("\n") for part in parts)
    imports = _imports_for(body)
    if packaged and helpers:
        names = sorted(_defined_names(helpers), key=lambda name: (name[0].islower(), name))  # isort's order
        imports += ["", f"from ._helpers import {', '.join(names)}"]
    source = "\n".join([header(spec, values, packaged=packaged), *imports, "", "", body, ""])
    return provenance.stamp(_format(source, f"{spec.id} block"))


def block_code(env: jinja2.Environment, spec: BlockSpec, values: dict[str, Any]) -> str:
    """The entry's template rendered for ``values``: the block's code before imports, helpers and formatting."""
    context = {
        "cls": Code(spec.class_name),
        "docstring": Code(docstring(spec, values)),
        "checks": Code(constraint_checks(spec)),
        **{name: PyStr(v) if isinstance(v, str) else v for name, v in values.items()},
    }
    return _template(env, f"blocks/{spec.template}", context)


def _defined_names(sources: list[str]) -> list[str]:
    """The classes and functions that helper sources define at module level."""
    return [node.name for text in sources for node in ast.parse(text).body if hasattr(node, "name")]


def _render_tests(env: jinja2.Environment, spec: BlockSpec, values: dict[str, Any], tests_import: str) -> str:
    cases, counts, zero_gradients = [], [], []
    for case in spec.tests:
        merged = {**values, **case.params}
        try:
            spec.check_relations(merged)
        except ParamError as error:
            raise RenderError(
                f"the catalog test case {case.params} conflicts with the chosen parameters ({error}); "
                "choose compatible values or pass --no-tests"
            ) from None
        for shape_in, shape_out in zip(case.inputs, case.outputs):
            cases.append((case.params, _shapes(shape_in), _shapes(shape_out)))
        counts.append((case.params, spec.count_params(merged)))
        if case.zero_gradient:
            zero_gradients.append((case.params, list(case.zero_gradient)))
    context = {
        "spec": spec,
        "cls": Code(spec.class_name),
        "module": Code(tests_import),
        "id": spec.id,
        "cases": Code(_table(cases)),
        "counts": Code(_table(counts)),
        "invalid": Code(_table(invalid_cases(spec))),
        "zero_gradients": Code(_table(zero_gradients)) if zero_gradients else None,
        "documented": Code(_table([row])) if (row := documented_shape(spec, values)) else None,
        "pairs": Code(repr(sizes)) if (sizes := {p.name: values[p.name] for p in spec.params.values() if p.pair}) else None,
        "export_xfail": spec.export_xfail,
        "identity": spec.identity,
        "multi_input": spec.multi_input,
        "multi_output": spec.multi_output,
        "extra": spec.tests_template,
    }
    skeleton = "test_utility.py.j2" if spec.role == "utility" else "test_block.py.j2"
    source = header(spec, values, tests_import=tests_import) + "\n" + _template(env, skeleton, context)
    return provenance.stamp(_format(source, f"{spec.id} tests"))


def documented_shape(spec: BlockSpec, values: dict[str, Any]) -> tuple | None:
    """(required kwargs, input shape, the output shape the docstring's Shape gives) for these values.

    The required arguments and the input are the first test case's; None where the docstring
    gives no formula (several tensors, any layout) or these values do not take that input.
    """
    if spec.role == "utility" or not spec.tests or spec.multi_input:
        return None
    case = spec.tests[0]
    kwargs = {name: case.params[name] for name, p in spec.params.items() if p.required and name in case.params}
    merged, shape_in = {**values, **kwargs}, case.inputs[0]
    if len(kwargs) < sum(p.required for p in spec.params.values()):
        return None
    try:
        spec.check_relations(merged)
    except ParamError:
        return None
    if spec.map_size and spec.map_problem(merged, [(shape_in[1], shape_in[-2], shape_in[-1])]):
        return None
    try:
        shape_out = spec.output.output_shape(merged, shape_in, spec.input.channels)
    except (ArithmeticError, TypeError, ValueError) as error:  # a formula the entry's values cannot take
        raise RenderError(f"{spec.id}: the [output] shape cannot be computed with these values: {error}") from None
    return (kwargs, tuple(shape_in), shape_out) if shape_out else None


def _template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateError as error:
        raise RenderError(f"template {name}: {error}") from None


def _imports_for(body: str) -> list[str]:
    try:
        tree = ast.parse(body)
    except SyntaxError as error:
        raise RenderError(f"rendered code is not valid Python: line {error.lineno}: {error.msg}") from None
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    stdlib = [line for name, line in _IMPORTS.items() if name in used and name == "math"]
    third_party = [line for name, line in _IMPORTS.items() if name in used and name != "math"]
    return stdlib + ([""] if stdlib and third_party else []) + third_party


def _format(source: str, what: str) -> str:
    try:
        return black.format_str(source, mode=black.Mode())
    except black.InvalidInput as error:
        raise RenderError(f"rendered {what} is not valid Python: {error}") from None


def _shapes(shape: list) -> tuple:
    """A shape as a tuple, or a group of shapes (one per named tensor) as a tuple of tuples."""
    return tuple(_shapes(s) for s in shape) if shape and isinstance(shape[0], list) else tuple(shape)


def _table(rows: list[tuple]) -> str:
    """A list literal with one row per line, as black would lay it out."""
    return "[\n" + "".join(f"    {_row(row)},\n" for row in rows) + "]"


def _row(row: tuple) -> str:
    return "(" + ", ".join(literal(v) if not isinstance(v, dict) else repr(v) for v in row) + ")"


# -- generated parts of the block ------------------------------------------------------


def docstring(spec: BlockSpec, values: dict[str, Any]) -> str:
    """The class docstring: summary, paper, Args and Shape, indented for a class body."""
    lines = [spec.summary, ""]
    if spec.description:
        lines += [*spec.description.splitlines(), ""]
    lines += [*_wrap(spec.paper.cite() + ".", "", ""), spec.paper.link]
    if spec.params:
        lines += ["", "Args:"]
    for param in spec.params.values():
        pair = " An int or a square pair, as nn.Conv2d takes it." if param.pair else ""
        lines += _wrap(f"{param.name}: {param.doc}{pair}", "    ", "        ")
    if spec.role != "utility":
        channels = spec.input.channels or "C"
        lines += ["", "Shape:"]
        lines += _shape_lines("Input", spec.input.describe(_symbol(channels)))
        lines += _shape_lines("Output", spec.output.describe(_symbol(spec.output.channels or channels)))
        if spec.output.size_note():
            lines += _wrap(spec.output.size_note(), "      ", "      ")
    body = "\n".join(f"    {line}" if line else "" for line in lines[1:])
    return f'"""{lines[0]}\n\n{body.lstrip(chr(10))}\n    """'


def _shape_lines(label: str, shapes: list[str]) -> list[str]:
    if len(shapes) == 1:
        return [f"    - {label}: {shapes[0]}"]
    return [f"    - {label}s:", *(f"        {shape}" for shape in shapes)]


def _symbol(expression: str) -> str:
    return "C" if expression == "channels" else expression


def _wrap(text: str, first: str, rest: str, width: int = 84) -> list[str]:
    words, lines, line = text.split(), [], first
    for word in words:
        if len(line) + len(word) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = rest
        line += ("" if line in (first, rest) else " ") + word
    return [*lines, line.rstrip()]


def constraint_checks(spec: BlockSpec) -> str:
    """``if ...: raise ValueError(...)`` lines for the entry's declared constraints.

    Sizes that nn.Conv2d also takes as pairs are made one int first.
    """
    pairs = [p.name for p in spec.params.values() if p.pair]
    lines = [f"{', '.join(pairs)} = " + ", ".join(f'square_size({name}, "{name}")' for name in pairs)] if pairs else []
    for param in spec.params.values():
        for condition, *message in _violations(param):
            if param.optional:
                condition = f"{param.name} is not None and " + (f"({condition})" if " or " in condition else condition)
            strings = " ".join(f'f"{part}"' for part in message)  # black lays long ones out one a line
            lines += [f"if {condition}:", f"    raise ValueError({strings})"]
    return "\n        ".join(lines)


def _violations(p: Param) -> list[tuple[str, ...]]:
    """(condition, message, message continued...) per check of the parameter, from the catalog's constraints."""
    name, bounds = p.name, p.bounds()
    found = [(c.condition("broken", name, b), c.error(name, b, f"{{{name}}}")) for c, b in bounds if c.scope == "length"]
    items = [(c, b) for c, b in bounds if c.scope == "item"]
    if items:  # one check of every bound on a value, whose message names them all
        condition = " or ".join(c.condition("broken", "v" if p.is_list else name, b) for c, b in items)
        words = " and ".join(c.words(b) for c, b in items)
        if p.is_list:
            found.append((f"any({condition} for v in {name})", f"every {name} item must be {words}, got {{{name}}}"))
        else:
            found.append((condition, f"{name} must be {words}, got {{{name}!r}}"))
    for c, b in bounds:
        if c.scope == "relation":  # the message names a value that works: the largest common divisor
            message = c.error(name, b, f"{{{name}}}", f"{{{b}}}")
            found.append((c.condition("broken", name, b), f"{message}; ", f"e.g. {name}={{math.gcd({b}, {name})}}"))
    return found


def invalid_cases(spec: BlockSpec) -> list[tuple[dict[str, Any], str]]:
    """Constructor arguments that must raise ValueError, each with the text the error names.

    One case per declared bound or choice (derived from the entry), plus the
    entry's own ``[[invalid]]`` cases for constraints data cannot express.
    """
    base = dict(spec.tests[0].params) if spec.tests else {}
    found = []
    for p in spec.params.values():
        current = base.get(p.name, p.default)
        for bad in _bad_values(p, current):
            found.append(({**base, p.name: bad}, p.name))
    found += [({**base, **case.params}, case.match) for case in spec.invalid]
    return found


def _bad_values(p: Param, current: Any) -> list[Any]:
    """One value per constraint of the table that breaks it, the other items kept (a short list last)."""
    if p.is_list and current is None:
        current = []  # an optional list left unset: build bad values from scratch
    item = current[0] if p.is_list and current else current
    bad = [c.breaking(p, item) for c, _ in p.bounds() if c.scope == "item"]
    bad = [[wrong, *current[1:]] for wrong in bad] if p.is_list else bad
    return bad + [c.breaking(p, current) for c, _ in p.bounds() if c.scope == "length"]
