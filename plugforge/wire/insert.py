"""Adding ``self.<name> = Block(...)`` next to an anchor and wrapping its calls, and undoing it."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from .datatypes import Block
from .errors import WireError
from .nodes import called_self_attribute, code, is_blank, keyword, make_self_attribute, parse_expression, positional


def block_call(block: Block, channels: cst.BaseExpression | None) -> cst.Call:
    """``Block(<channels>, k=v, ...)`` with the block's extra keyword arguments."""
    first = block.params[0] if block.params else None
    if channels is not None and first in block.kwargs:
        raise WireError(f"⟨settings⟩ {first} conflicts with the channels plugforge passes; use ⟨channels⟩ EXPR instead")
    args = [positional(channels)] if channels is not None else []
    if channels is not None:
        args += [keyword(key, channels.deep_clone()) for key in block.same_channels if key not in block.kwargs]
    args += [keyword(key, parse_expression(value, f"⟨settings⟩ {key}")) for key, value in block.kwargs.items()]
    return cst.Call(func=cst.Name(block.class_name), args=args)


def attribute_line(name: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(make_self_attribute(name))], value)])


def insert_line(tree: cst.CSTNode, anchor: cst.SimpleStatementLine, line: cst.SimpleStatementLine, before: bool):
    """Put ``line`` right after (or before) ``anchor`` in the block that holds it."""
    return tree.visit(_InsertLine(anchor, line, before))


def remove_line(tree: cst.CSTNode, line: cst.SimpleStatementLine):
    return tree.visit(_RemoveLine(line))


def wrap_calls(tree: cst.CSTNode, anchor: str, name: str, before: bool) -> tuple[cst.CSTNode, int]:
    """Wrap every ``self.anchor(...)`` outside ``__init__``: ``self.name(...)`` around or inside it."""
    wrapper = _WrapCalls(anchor, name, before)
    return tree.visit(wrapper), wrapper.count


def unwrap_calls(tree: cst.CSTNode, name: str) -> tuple[cst.CSTNode, int]:
    """Replace every ``self.name(x)`` outside ``__init__`` by ``x``."""
    unwrapper = _UnwrapCalls(name)
    return tree.visit(unwrapper), unwrapper.count


def blank_prefix(lines: Sequence[cst.EmptyLine]) -> int:
    """How many of the lines above a statement are blank before the first comment."""
    count = 0
    while count < len(lines) and is_blank(lines[count]):
        count += 1
    return count


class _InsertLine(cst.CSTTransformer):
    def __init__(self, anchor: cst.SimpleStatementLine, line: cst.SimpleStatementLine, before: bool) -> None:
        self.anchor, self.line, self.before = anchor, line, before

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        index = _index_of(original.body, self.anchor)
        if index is None:
            return updated
        body = list(updated.body)
        if not self.before:
            body.insert(index + 1, self.line)
            return updated.with_changes(body=body)
        # The blank lines above the anchor move above the new line; its comments stay with it.
        anchor = body[index]
        split = blank_prefix(anchor.leading_lines)
        body[index : index + 1] = [
            self.line.with_changes(leading_lines=anchor.leading_lines[:split]),
            anchor.with_changes(leading_lines=anchor.leading_lines[split:]),
        ]
        return updated.with_changes(body=body)


class _RemoveLine(cst.CSTTransformer):
    """Drops a line; its blank lines go to the next line, so removal undoes insertion."""

    def __init__(self, line: cst.SimpleStatementLine) -> None:
        self.line = line

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        index = _index_of(original.body, self.line)
        if index is None:
            return updated
        body = list(updated.body)
        removed = body.pop(index)
        blanks = removed.leading_lines[: blank_prefix(removed.leading_lines)]
        if index < len(body):
            body[index] = body[index].with_changes(leading_lines=[*blanks, *body[index].leading_lines])
        return updated.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])])


class _MethodCalls(cst.CSTTransformer):
    """Base for transformers of calls in the methods other than ``__init__``."""

    def __init__(self) -> None:
        self.count = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node.name.value != "__init__"


class _WrapCalls(_MethodCalls):
    def __init__(self, anchor: str, name: str, before: bool) -> None:
        super().__init__()
        self.anchor, self.name, self.before = anchor, name, before

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if called_self_attribute(original) != self.anchor:
            return updated
        self.count += 1
        if not self.before:
            return self._call(updated)
        first = updated.args[0] if updated.args else None
        if first is None or first.keyword is not None or first.star:
            raise WireError(
                f"cannot wire before {code(original)}: its input is not its first positional argument; "
                f"use ⟨after⟩ on the layer that produces that input"
            )
        return updated.with_changes(args=[first.with_changes(value=self._call(first.value)), *updated.args[1:]])

    def _call(self, value: cst.BaseExpression) -> cst.Call:
        return cst.Call(func=make_self_attribute(self.name), args=[cst.Arg(value=value)])


class _UnwrapCalls(_MethodCalls):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if called_self_attribute(original) != self.name:
            return updated
        if len(updated.args) != 1 or updated.args[0].keyword is not None or updated.args[0].star:
            raise WireError(
                f"cannot unwrap {code(original)}: plugforge only removes calls of the form self.{self.name}(x); "
                f"edit that call by hand, then run remove again"
            )
        self.count += 1
        return updated.args[0].value


def _index_of(body: Sequence[cst.CSTNode], node: cst.CSTNode) -> int | None:
    return next((index for index, line in enumerate(body) if line is node), None)
