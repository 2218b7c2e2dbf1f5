"""Layers as plugforge sees them, and the channel expressions read from them.

A ``Layer`` is a constructor call resolved to a torch layer, with its arguments bound
by parameter name as *source expressions*. Layers built through a helper function or
a class of the same file are resolved to the torch layer they produce, with the
helper's parameters replaced by the caller's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import libcst as cst

from . import layers
from .nodes import free_names, parenthesized

CONV, PASS, LINEAR, OPAQUE = "conv", "pass", "linear", "opaque"


@dataclass(frozen=True)
class Layer:
    kind: str  # torch class name ("Conv2d"), "Sequential", or layers.NORM_LIKE
    args: Mapping[str, cst.BaseExpression] = field(default_factory=dict)
    elements: tuple[Layer | None, ...] | None = None  # Sequential elements; None: not known
    built: bool = False  # elements were added in steps, so they are not the Sequential's arguments
    via_class: bool = False  # resolved through a class (not a plain torch layer)
    input: Layer | None = None  # first layer of a class, for its input channels
    rule: str | None = None  # how it was resolved, when not from a plain constructor


def category(layer: Layer | None) -> str:
    """conv (conv/norm), pass (keeps channels), linear, or opaque (unknown)."""
    if layer is None:
        return OPAQUE
    if layer.kind == "Sequential":
        return _sequential_category(layer.elements)
    if layer.kind in layers.CONV or layer.kind in layers.NORM:
        return CONV
    if layer.kind == "Linear":
        return LINEAR
    return PASS if layer.kind in layers.CHANNEL_PRESERVING else OPAQUE


def _sequential_category(elements: tuple[Layer | None, ...] | None) -> str:
    if elements is None:
        return OPAQUE
    for element in reversed(elements):
        if category(element) in (CONV, LINEAR):
            return category(element)
    return PASS if all(category(element) == PASS for element in elements) else OPAQUE


def output_channels(layer: Layer | None) -> cst.BaseExpression | None:
    """The expression for the channels a layer outputs, if it can be read."""
    if layer is None:
        return None
    if layer.kind == "Sequential":
        return _first(output_channels(element) for element in reversed(layer.elements or ()))
    return _channel_argument(layer, layers.OUTPUT_CHANNELS.get(layer.kind))


def input_channels(layer: Layer | None) -> cst.BaseExpression | None:
    """The expression for the channels a layer takes in, if it can be read."""
    if layer is None:
        return None
    if layer.input is not None:
        return input_channels(layer.input)
    if layer.kind == "Sequential":
        return _first(input_channels(element) for element in layer.elements or ())
    return _channel_argument(layer, layers.INPUT_CHANNELS.get(layer.kind))


def _channel_argument(layer: Layer, parameter: str | None) -> cst.BaseExpression | None:
    value = layer.args.get(parameter) if parameter else None
    if layer.kind == "LayerNorm" and isinstance(value, (cst.List, cst.Tuple)):
        return value.elements[0].value if len(value.elements) == 1 else None
    return value


def _first(values):
    return next((value for value in values if value is not None), None)


def by_convention(name: str, call: cst.Call) -> Layer | None:
    """A norm or conv factory read by its argument names (``norm_layer(planes)``, ``conv(c1, out_chs)``)."""
    kind = layers.factory_kind(name)
    if kind is None:
        return None
    keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
    positional = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
    output = _named(keywords, positional, layers.OUTPUT_NAMES)
    if output is None and kind == "norm" and positional and not isinstance(positional[0], cst.SimpleString):
        output = positional[0]
    if output is None:
        return None
    given = output if kind == "norm" else _named(keywords, positional, layers.INPUT_NAMES)
    args = {"out_channels": output, **({"in_channels": given} if given is not None else {})}
    return Layer(layers.CONVENTION, args, rule=f"{name} read by its argument names")


def _named(keywords, positional, names: Sequence[str]) -> cst.BaseExpression | None:
    """The argument passed as one of ``names``, or the one positional argument spelled like one."""
    for name in names:
        if name in keywords:
            return keywords[name]
    spelled = [value for value in positional if isinstance(value, cst.Name) and value.value in names]
    return spelled[0] if len(spelled) == 1 else None


def layer_names(layer: Layer | None) -> set[str]:
    """Every name the layer's argument expressions read."""
    if layer is None:
        return set()
    names = set().union(*(free_names(value) for value in layer.args.values()))
    names |= set().union(*(layer_names(element) for element in layer.elements or ()))
    return names | layer_names(layer.input)


def bind(call: cst.Call, parameters: Sequence[str], defaults: Mapping[str, cst.BaseExpression] | None = None) -> dict:
    """Map a call's arguments onto parameter names (defaults fill the rest)."""
    bound: dict[str, cst.BaseExpression] = {}
    position = 0
    for arg in call.args:
        if arg.star:
            position = len(parameters)  # positions after *args are unknown
        elif arg.keyword is not None:
            bound[arg.keyword.value] = arg.value
        elif position < len(parameters):
            bound[parameters[position]] = arg.value
            position += 1
    return {**(defaults or {}), **bound}


def instantiate(layer: Layer | None, arguments: Mapping[str, cst.BaseExpression], hidden: set[str]) -> Layer | None:
    """A layer resolved inside a helper, rewritten in the caller's terms.

    ``hidden`` are names only the helper sees (its locals, unbound parameters, self);
    an argument that uses one cannot be expressed for the caller and is dropped.
    """
    if layer is None:
        return None
    args = {}
    for name, value in layer.args.items():
        rewritten = substitute(value, arguments, hidden)
        if rewritten is not None:
            args[name] = rewritten
    elements = None
    if layer.elements is not None:
        elements = tuple(instantiate(element, arguments, hidden) for element in layer.elements)
    return replace(layer, args=args, elements=elements, input=instantiate(layer.input, arguments, hidden))


def substitute(expression: cst.BaseExpression, arguments: Mapping[str, cst.BaseExpression], hidden: set[str]):
    """The expression with parameter names replaced by arguments; None if it needs a hidden name."""
    if free_names(expression) & hidden:
        return None
    if isinstance(expression, cst.Name) and expression.value in arguments:
        return arguments[expression.value]
    return expression.visit(_Substitute(arguments))


class _Substitute(cst.CSTTransformer):
    def __init__(self, arguments: Mapping[str, cst.BaseExpression]) -> None:
        self.arguments = arguments

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        value = self.arguments.get(original.value)
        return parenthesized(value) if value is not None else updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(attr=original.attr)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        return updated.with_changes(keyword=original.keyword)
