"""Elements of ``nn.Sequential(a, b, c)`` literals, addressed as ``features.3``."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from . import layers
from .analysis import ClassAnalysis
from .channels import Layer, input_channels, output_channels
from .errors import WireError
from .nodes import callee, code


@dataclass(frozen=True)
class Slot:
    """One element of a Sequential literal and the channels around it."""

    path: str
    call: cst.Call  # the innermost Sequential literal
    index: int
    element: cst.BaseExpression
    channels_out: cst.BaseExpression | None
    channels_in: cst.BaseExpression | None


def is_literal_sequential(node: cst.BaseExpression) -> bool:
    return layers.torch_layer(callee(node) or "") == "Sequential"


def locate(analysis: ClassAnalysis, path: str) -> Slot:
    """The element at ``attr.i.j``; errors say how to address a Sequential that has none."""
    attribute, *indices = path.split(".")
    node: cst.BaseExpression = analysis.model.assignments[attribute].value
    layer = analysis.layer(attribute)
    preceding: list[Layer | None] = []
    where = attribute
    for text in indices:
        call, elements = _literal(node, layer, where)
        index = _index(text, len(call.args), where)
        preceding += elements[:index]
        node, layer, where = call.args[index].value, elements[index], f"{where}.{text}"
    before = [output_channels(element) for element in reversed(preceding)]
    fallback = next((channels for channels in before if channels is not None), None)
    return Slot(
        path=path,
        call=call,
        index=index,
        element=node,
        channels_out=output_channels(layer) or fallback,
        channels_in=input_channels(layer) or fallback,
    )


def paths(attribute: str, node: cst.BaseExpression) -> list[tuple[str, cst.BaseExpression]]:
    """Every element path under a Sequential literal, depth first."""
    found = []
    if not is_literal_sequential(node) or any(arg.star or arg.keyword for arg in node.args):
        return found
    for index, arg in enumerate(node.args):
        path = f"{attribute}.{index}"
        found.append((path, arg.value))
        found += paths(path, arg.value)
    return found


def _literal(node: cst.BaseExpression, layer: Layer | None, where: str) -> tuple[cst.Call, tuple]:
    if not is_literal_sequential(node):
        raise WireError(f"{where} is {code(node)}, not an nn.Sequential; use ⟨after⟩ {where}")
    if not node.args:
        raise WireError(
            f"{where} is an empty nn.Sequential() filled elsewhere (in a loop or with add_module); "
            f"wire after the whole attribute instead: ⟨after⟩ {where}"
        )
    if layer is None or layer.elements is None or layer.built:
        raise WireError(
            f"{where} is built from a list or dict ({code(node)}); plugforge only inserts into a literal "
            f"nn.Sequential(a, b, ...): wire after the whole attribute instead: ⟨after⟩ {where}"
        )
    return node, layer.elements


def _index(text: str, size: int, where: str) -> int:
    if text.isdigit() and int(text) < size:
        return int(text)
    raise WireError(f"{where} has {size} elements: use an index from {where}.0 to {where}.{size - 1}")


def with_element(call: cst.Call, position: int, value: cst.BaseExpression) -> cst.Call:
    """The Sequential with ``value`` inserted as element ``position``, formatted like its neighbours.

    Appending moves the closing layout (trailing comma, whitespace before ``)``) of
    the old last element to the new one.
    """
    args = list(call.args)
    between = {"comma": _separator(call), "whitespace_after_arg": cst.SimpleWhitespace("")}
    if position < len(args):
        args.insert(position, cst.Arg(value=value, **between))
    else:
        last = args[-1]
        args[-1] = last.with_changes(**between)
        args.append(cst.Arg(value=value, comma=last.comma, whitespace_after_arg=last.whitespace_after_arg))
    return call.with_changes(args=args)


def renumbered_keys(parent: str, index: int, size: int) -> list[str]:
    """What an insertion at ``index`` of a Sequential of ``size`` elements does to a saved state_dict, and the fix.

    The elements from ``index`` on move up by one, and so do their keys (``features.4.weight``
    becomes ``features.5.weight``): weights saved before would load into the wrong layers, or
    fail to. The lines give the one-line renaming that makes them load.
    """
    if index >= size:
        return [f"no element of {parent} moved, so a state_dict saved before this add still loads (strict=False)"]
    one = index == size - 1
    moved = f"{parent}.{index}" if one else f"{parent}.{index} to {parent}.{size - 1}"
    pattern = "\\b" + parent.replace(".", "\\.") + "\\.(\\d+)\\."
    rename = f're.sub(r"{pattern}", lambda m: f"{parent}.{{int(m[1]) + (int(m[1]) >= {index})}}.", key)'
    return [
        f"{moved} moved up by one, and so did {'its' if one else 'their'} state_dict keys; to load weights "
        "saved before this add:",
        f"    state = {{{rename}: value for key, value in state.items()}}",
        "    model.load_state_dict(state, strict=False)  # strict=False: the new block's weights are not in it",
    ]


def without_element(call: cst.Call, position: int) -> cst.Call:
    """Inverse of ``with_element``: a removed last element hands its closing layout back."""
    args = list(call.args)
    removed = args.pop(position)
    if position == len(args) and args:
        args[-1] = args[-1].with_changes(comma=removed.comma, whitespace_after_arg=removed.whitespace_after_arg)
    return call.with_changes(args=args)


def _separator(call: cst.Call) -> cst.Comma:
    """The comma and whitespace between two elements, without any comment."""
    if len(call.args) >= 2 and isinstance(call.args[0].comma, cst.Comma):
        whitespace = call.args[0].comma.whitespace_after
    elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        whitespace = call.whitespace_before_args
    else:
        whitespace = cst.SimpleWhitespace(" ")
    if isinstance(whitespace, cst.ParenthesizedWhitespace):
        whitespace = whitespace.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    return cst.Comma(whitespace_after=whitespace)
