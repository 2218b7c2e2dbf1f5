"""``Placement.replace``: map a conv or pooling layer's arguments onto a conv-like block.

The replaced line keeps the original as ``# plugforge replaced: ...`` comments above
it, so that ``remove`` can restore it byte for byte.
"""

from __future__ import annotations

import libcst as cst

from . import layers, resample
from .channels import Layer
from .datatypes import Block
from .errors import RulesUndecided, WireError
from .nodes import (
    callee,
    code,
    comment_line,
    dotted_name,
    keyword,
    literal_int,
    literal_square,
    parse_expression,
    positional,
)
from .rules import Symbol, holds, names_in, value_of

MARKER = "# plugforge replaced: "
CHANNEL_PARAMS = ("in_channels", "out_channels", "channels")
# Arguments that, at these literal values, ask nothing of the replacing block.
NEUTRAL = {
    "stride": "1",
    "dilation": "1",
    "groups": "1",
    "padding_mode": "'zeros'",
    "device": "None",
    "dtype": "None",
    "return_indices": "False",
    "ceil_mode": "False",
    "count_include_pad": "True",
    "divisor_override": "None",
}


def replacement(owner: str, anchor: str, layer: Layer | None, block: Block, channels: cst.BaseExpression | None):
    """``(Block(...) call, notes)`` built from the arguments of ``owner.<anchor>``, the replaced layer."""
    if layer is None or layer.kind not in layers.REPLACEABLE or layer.via_class:
        raise WireError(
            f"⟨replace⟩ works on nn.Conv2d, nn.MaxPool2d and nn.AvgPool2d, and for upsamplers nn.Upsample and "
            f"nn.ConvTranspose2d (or a helper of this file returning one); {anchor} is not one: choose such a "
            f"layer, or use ⟨after⟩ {anchor}"
        )
    arguments = dict(layer.args)
    if layer.kind in layers.POOL and "kernel_size" in arguments:
        arguments.setdefault("stride", arguments["kernel_size"])  # pooling strides by its kernel by default
    arguments, layer_only, resampled = resample.fit(anchor, layer.kind, arguments, block)
    passed, notes = _map_arguments(anchor, layer.kind, arguments, block)
    _add_channels(passed, arguments, block, channels, anchor)
    _check_rules(owner, anchor, passed, block, layer_only)
    return _call(block, passed, notes), resampled + notes


def _check_rules(owner: str, anchor: str, passed: dict, block: Block, layer_only: dict | None = None) -> None:
    """Refuse, with the reason, arguments of the replaced layer that break a rule of the block.

    ``layer_only``: arguments of the layer the block does not take that its rules read (a fixed factor's stride).

    A rule the source cannot decide is refused too (it may break at run time), unless it
    is on one width alone (``out_channels % 4 == 0``), which real layers rarely break.
    """
    from_layer = {name: code(value) for name, value in passed.items() if name not in block.kwargs}
    from_layer.update({name: code(value) for name, value in (layer_only or {}).items()})
    values = {name: value_of(text, name) for name, text in {**block.settings, **from_layer}.items()}
    for name, value in values.items():
        if name in from_layer and isinstance(value, tuple) and len(value) == 2:
            raise WireError(
                f"{block.class_name} takes {name} as an int or a square pair, but {anchor} gives "
                f"{name}={from_layer[name]}; choose a layer with square sizes, or a block that takes others"
            )
        if name in from_layer and name in block.sequences and isinstance(value, int):
            values[name] = (value,)  # the layer's one size, as the block's parameter takes it
    undecided = []
    for rule, why in block.rules:
        names = names_in(rule)
        used = sorted(names & from_layer.keys())
        if not used or not names <= values.keys():
            continue  # the block's own settings alone, checked when they were set
        verdict = holds(rule, values)
        widths = [name for name in used if name in CHANNEL_PARAMS]
        unknown = [name for name in used if isinstance(values[name], Symbol)]
        if verdict or verdict is None and unknown == widths and len(widths) == 1:
            continue  # a rule on one width alone is checked where the width is known, as for inserted blocks
        given = ", ".join(f"{name}={from_layer[name]}" for name in used)
        need = f"{block.class_name} needs {rule}" + (f" ({why})" if why else "")
        if verdict is False:
            raise WireError(f"{need}, but {anchor} gives {given}; choose a layer where it holds, or another block")
        undecided.append((rule, why, f"{need}, and {anchor} gives {given}"))
    if undecided:
        raise RulesUndecided(
            f"{undecided[0][2]}: plugforge cannot tell whether it holds there; choose a layer whose arguments "
            f"show it (literals, or the same expression on both sides), or another block, or pass ⟨build⟩ EXPR "
            f"(the model to build) to check it in every {owner} at run time",
            owner, anchor, [(rule, why) for rule, why, _ in undecided],
        )  # fmt: skip


def _map_arguments(anchor: str, kind: str, arguments: dict, block: Block) -> tuple[dict, list[str]]:
    passed, notes = {}, []
    takes_channels = "channels" in block.params
    for name, value in arguments.items():
        if name in block.params:
            passed[name] = value
        elif takes_channels and name in ("in_channels", "out_channels"):
            continue  # becomes `channels` when in and out agree
        elif name == "padding" and _same_padding(arguments):
            notes.append(f"dropped padding={code(value)}: {block.class_name} pads itself to keep the size")
        elif name == "bias":
            notes.append(f"dropped bias={code(value)}: {block.class_name} has no bias parameter")
        elif _neutral(name, value):
            continue
        else:
            raise WireError(
                f"{block.class_name} has no `{name}`; remove {name}={code(value)} from {anchor} "
                f"or choose a block that supports it"
            )
    kernel = literal_square(arguments.get("kernel_size"))
    if kind == "Conv2d" and "padding" not in arguments and "padding" not in block.params and (kernel or 0) > 1:
        raise WireError(
            f"{anchor} has no padding, so its output shrinks, but {block.class_name} keeps the size; "
            f"add padding={kernel // 2} to {anchor} if that is intended, or choose a block with a `padding` parameter"
        )
    return passed, notes


def _add_channels(passed: dict, arguments: dict, block: Block, channels, anchor: str) -> None:
    """Fill ``channels`` (shape-preserving blocks) and channel parameters a pooling layer lacks."""
    same = arguments.get("in_channels")
    if same is not None and code(same) != code(arguments.get("out_channels", same)):
        same = None
    for name in CHANNEL_PARAMS:
        if name in block.params and name not in passed:
            value = channels if channels is not None else same
            if value is None and "out_channels" in arguments:
                raise WireError(
                    f"{block.class_name} keeps the channel count but {anchor} maps "
                    f"{code(arguments['in_channels'])} to {code(arguments['out_channels'])} channels; "
                    f"choose a layer whose in and out channels are equal, or a block with in/out channels"
                )
            if value is None:
                raise WireError(f"cannot tell the `{name}` of {block.class_name} from {anchor}; pass ⟨channels⟩ EXPR")
            passed[name] = value


def _call(block: Block, passed: dict, notes: list[str]) -> cst.Call:
    """Channel parameters positional while they lead, the rest by keyword, then ``block.kwargs``."""
    args, leading = [], True
    for name in block.params:
        leading = leading and name in passed and name not in block.kwargs and name in CHANNEL_PARAMS
        if name not in passed:
            continue
        if name in block.kwargs:
            notes.append(f"{name}={block.kwargs[name]} from ⟨settings⟩ replaces {name}={code(passed[name])}")
            continue
        args.append(positional(passed[name]) if leading else keyword(name, passed[name]))
    args += [keyword(name, parse_expression(value, f"⟨settings⟩ {name}")) for name, value in block.kwargs.items()]
    return cst.Call(func=cst.Name(block.class_name), args=args)


def _neutral(name: str, value: cst.BaseExpression) -> bool:
    expected = NEUTRAL.get(name)
    return expected is not None and code(value).replace('"', "'") == expected


def _same_padding(arguments: dict) -> bool:
    """Whether ``padding`` keeps the spatial size: ``kernel_size // 2 * dilation``."""
    padding, kernel, dilation = arguments.get("padding"), arguments.get("kernel_size"), arguments.get("dilation")
    if isinstance(padding, cst.SimpleString):
        return padding.evaluated_value == "same"
    size, dilation_value = literal_square(kernel), literal_int(dilation) if dilation is not None else 1
    if size is not None and dilation_value is not None:
        return literal_square(padding) == size // 2 * dilation_value
    if size is not None:  # padding=dilation for a 3x3 conv
        return size // 2 == 1 and code(padding) == code(dilation)
    written = code(padding).replace(" ", "") if padding is not None else ""
    kernel_text = code(kernel) if kernel is not None else "?"
    return dilation_value == 1 and written == f"{kernel_text}//2" or written.startswith(f"autopad({kernel_text},")


def mark(line: cst.SimpleStatementLine, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    """The line with a new value, the original kept as marker comments above it."""
    if _has_dedented_continuation(line):
        raise WireError(
            "the replaced line has continuation lines indented less than the line itself; "
            "reformat it (e.g. with black), then run the command again"
        )
    original = cst.Module(body=[]).code_for_node(line.with_changes(leading_lines=())).splitlines()
    newline = line.trailing_whitespace.newline  # kept on the markers, for files with mixed line endings
    markers = [comment_line(MARKER + text).with_changes(newline=newline) for text in original]
    statement = line.body[0]
    if isinstance(statement, cst.AnnAssign) and dotted_name(statement.annotation.annotation) == callee(statement.value):
        statement = statement.with_changes(annotation=cst.Annotation(value.func))  # self.conv: Block = Block(...)
    statement = statement.with_changes(value=value)
    return line.with_changes(body=[statement], leading_lines=[*line.leading_lines, *markers])


def original_text(line: cst.SimpleStatementLine) -> list[str]:
    """The replaced line's original source, from its marker comments (empty if none)."""
    texts = []
    for empty in reversed(line.leading_lines):
        if empty.comment is None or not empty.comment.value.startswith(MARKER):
            break
        texts.insert(0, empty.comment.value[len(MARKER) :])
    return texts


def restore(line: cst.SimpleStatementLine, indent: str) -> cst.SimpleStatementLine:
    """The original line back, parsed at the same indentation so it prints identically."""
    texts = original_text(line)
    source = "if True:\n" + "".join(f"{indent}{text}\n" if text else "\n" for text in texts)
    original = cst.parse_module(source).body[0].body.body[0]
    newline = line.leading_lines[-1].newline
    if newline.value is not None:
        original = original.visit(_ExplicitNewlines(newline))
    return original.with_changes(leading_lines=line.leading_lines[: -len(texts)])


class _ExplicitNewlines(cst.CSTTransformer):
    """Line ends that differ from the file's default (files with mixed line endings)."""

    def __init__(self, newline: cst.Newline) -> None:
        self.newline = newline

    def leave_Newline(self, original: cst.Newline, updated: cst.Newline) -> cst.Newline:
        return self.newline


def _has_dedented_continuation(line: cst.SimpleStatementLine) -> bool:
    finder = _DedentFinder()
    line.visit(finder)
    return finder.found


class _DedentFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_ParenthesizedWhitespace(self, node: cst.ParenthesizedWhitespace) -> None:
        self.found = self.found or not node.indent
