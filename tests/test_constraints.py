"""The catalog's declared constraints are the ones the rendered constructors enforce.

`new`, `add`, `bench` and `vendor` validate values with the catalog alone (torch is
not imported there); the rendered constructor raises ValueError on its own. For
every parameter of every entry, values around its bounds (and small values of
every kind) are tried with the other parameters at the entry's first test case:
the catalog must accept exactly the values the constructor accepts.
"""

import importlib.util
import math
import re

import pytest

from plugforge.catalog.spec import evaluate, literal, load_catalog
from plugforge.errors import ParamError
from plugforge.rendering.render import render
from tests.conftest import invoke

torch = pytest.importorskip("torch")

SPECS = [spec for spec in load_catalog().specs if spec.role != "utility"]


def probes(param, current):
    """Values worth trying for one parameter: its bounds and their neighbours, small values, None."""
    found = [None] if param.optional else []
    if param.item_type == "bool":
        return found + [False, True]
    if param.item_type == "str":
        return found + list(param.choices)
    numbers = {-1, 0, 1, 2, 3, 4, 5, 7, 8}
    bounds = [b for b in (param.min, param.max, param.above, param.below) if b is not None]
    if param.item_type == "int":
        numbers |= {int(b) + step for b in bounds for step in (-1, 0, 1)}
        numbers |= {current + step for step in (-1, 1)} if isinstance(current, int) else set()
    else:
        numbers = {float(n) for n in numbers} | {0.25, 0.5, 1.5} | {b + step for b in bounds for step in (-0.25, 0, 0.25)}
    if not param.is_list:
        return found + sorted(numbers)
    rest = list(current[1:]) if current else []
    return found + [[]] + [[n] for n in sorted(numbers)] + ([[n, *rest] for n in sorted(numbers)] if rest else [])


def declared_ok(spec, values, name):
    try:
        spec.params[name].check(values[name])
        spec.check_relations(values)
    except ParamError:
        return False
    return True


def constructor_ok(block_class, values):
    try:
        block_class(**values)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_declared_constraints_match_the_constructor(spec, tmp_path):
    path = tmp_path / f"{spec.module}.py"
    path.write_text(render(spec, spec.defaults(), with_tests=False).block, encoding="utf-8")
    loader = importlib.util.spec_from_file_location(f"_constraints_{spec.module}", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    block_class = getattr(module, spec.class_name)
    base = {**spec.defaults(), **spec.tests[0].params}
    disagree = []
    for name, param in spec.params.items():
        for value in probes(param, base.get(name)):
            values = {**base, name: value}
            declared, built = declared_ok(spec, values, name), constructor_ok(block_class, values)
            if declared != built:
                said = f"catalog {'accepts' if declared else 'refuses'}, constructor {'accepts' if built else 'refuses'}"
                disagree.append(f"{name}={literal(value)}: {said}")
    assert not disagree, f"{spec.id}: declare the constructor's checks in catalog/{spec.id}.toml\n" + "\n".join(disagree)


@pytest.mark.parametrize("spec", load_catalog().specs, ids=lambda s: s.id)
def test_each_constraint_holds_exactly_where_it_is_not_broken_and_its_breaking_value_breaks_it(spec):
    """A row of CONSTRAINTS writes its condition twice (holds, broken): they must be each other's negation."""
    values = {**spec.defaults(), **(spec.tests[0].params if spec.tests else {})}
    for param in spec.params.values():
        current = values.get(param.name)
        for c, bound in param.bounds():
            if c.scope == "relation":
                for x, b in [(1, 4), (3, 4), (4, 4), (8, 4)]:
                    scope = {param.name: x, bound: b}
                    assert evaluate(c.condition("holds", param.name, bound), scope) != bool(
                        evaluate(c.condition("broken", param.name, bound), scope)
                    ), (spec.id, c.key, scope)
                continue
            items = {"int": list(range(-1, 9)), "float": [-1.0, 0.0, 0.25, 0.5, 1.0, 1.5, 8.0], "str": ["a", *param.choices]}
            for value in [list(range(n)) for n in range(5)] if c.scope == "length" else items[param.item_type]:
                held = evaluate(c.condition("holds", "x", bound), {"len": len, "x": value})
                assert held != c.breaks(bound, value), (spec.id, c.key, value)
            item = current[0] if param.is_list and current else None if param.is_list else current
            wrong = c.breaking(param, item if c.scope == "item" else list(current or []))
            assert c.breaks(bound, wrong), f"{spec.id}.{param.name}: {c.key}'s breaking value {wrong!r} does not break it"


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "Infinity", "NaN"])
def test_non_finite_floats_are_refused(text):
    param = load_catalog().get("simam").params["e_lambda"]
    with pytest.raises(ParamError, match="must be a finite number"):
        param.parse(text)


def test_a_parameter_that_allows_inf_is_written_as_float_inf():
    from dataclasses import replace

    param = replace(load_catalog().get("simam").params["e_lambda"], allow_inf=True)
    assert param.parse("inf") == math.inf
    assert literal(param.parse("inf")) == 'float("inf")'
    with pytest.raises(ParamError, match="a number or inf"):
        param.parse("nan")


BAD_SETS = [
    ("e_lambda=nan", "must be a finite number"),
    ("e_lambda=inf", "must be a finite number"),
    ("e_lambda=-1", "e_lambda must be float \\(> 0\\)"),
    ("e_lambda=0", "e_lambda must be float \\(> 0\\)"),
]


@pytest.mark.parametrize("setting, message", BAD_SETS, ids=[s for s, _ in BAD_SETS])
@pytest.mark.parametrize("command", ["new", "add", "bench"])
def test_every_command_refuses_the_same_values(command, setting, message, model, tmp_path):
    before = model.read_bytes()
    args = {
        "new": ["new", "simam", "-o", tmp_path / "out"],
        "add": ["add", "simam", "--into", model],
        "bench": ["bench", "simam"],
    }[command]
    result = invoke(*args, "--set", setting)
    assert result.exit_code == 1, result.output
    assert re.search(message, result.output), result.output
    assert not (tmp_path / "out").exists() and model.read_bytes() == before


def test_bench_checks_rules_that_need_the_input_channels():
    result = invoke("bench", "psa", "--input", "1,63,8,8")
    assert result.exit_code == 1
    assert "channels % len(kernels) == 0 must hold" in result.output and "channels=63" in result.output


def test_new_refuses_a_broken_relation_before_rendering(tmp_path):
    result = invoke("new", "psa", "-o", tmp_path, "--set", "kernels=3,5")
    assert result.exit_code == 1
    assert "len(groups) == len(kernels) must hold (one group count per kernel)" in result.output
    assert not list(tmp_path.iterdir())


def test_info_lists_the_rules():
    result = invoke("info", "psa")
    assert "Rules (checked as soon as the values are known):" in result.output
    assert "  len(groups) == len(kernels): one group count per kernel" in result.output
