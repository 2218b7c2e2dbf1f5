"""Following the data flow of ``forward`` backwards from its result.

The main branch is what feeds the first residual sum (``out += identity``,
``x + self.conv(x)``) or, without one, the ``return``. Tracing walks back through
``self.layer(x)`` calls, local variables, activations and permutes, recording every
layer it passes, and stops at what it cannot see through (``torch.cat``, a loop...).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import libcst as cst

from .channels import CONV, OPAQUE, PASS
from .layers import FUNCTIONAL_PRESERVING, LAYOUT_KEEPING, LAYOUT_SWAPS
from .nodes import called_self_attribute, child_suites, code, dotted_name, free_names, small_statements


@dataclass(frozen=True)
class Hit:
    attribute: str
    category: str
    swapped: bool  # reached through an odd number of permute/transpose calls


@dataclass
class Chain:
    hits: list[Hit] = field(default_factory=list)
    stop: str | None = None  # what tracing could not see through; None: an input

    def first_layer(self, start: int = 0) -> Hit | None:
        """The first hit from ``start`` on that sets the width: no activation, nothing behind a permute."""
        return next((hit for hit in self.hits[start:] if hit.category != PASS and not hit.swapped), None)


@dataclass(frozen=True)
class _Step:
    statement: cst.BaseSmallStatement
    blocks: tuple[int, ...]  # the enclosing blocks, outermost first


class Flow:
    """The statements of one ``forward``, in order, with the blocks (if/for...) around each."""

    def __init__(
        self,
        function: cst.FunctionDef,
        category: Callable[[str], str],
        keeps_width: Callable[[str, str], bool] = lambda attribute, feeder: False,
    ) -> None:
        self.category, self.keeps_width = category, keeps_width
        self.inputs = {param.name.value for param in _all_params(function.params)}
        self.steps: list[_Step] = []
        self._block_ids = itertools.count(1)
        self._loops: set[int] = set()  # ids of loop bodies
        self._collect(function.body, (0,))

    def _collect(self, suite: cst.BaseSuite, blocks: tuple[int, ...]) -> None:
        for line in getattr(suite, "body", ()):
            self.steps += [_Step(statement, blocks) for statement in small_statements(line)]
            for child in child_suites(line):
                block = next(self._block_ids)
                if isinstance(line, (cst.For, cst.While)) and child is line.body:
                    self._loops.add(block)
                self._collect(child, (*blocks, block))

    def main_chain(self) -> Chain:
        """The chain feeding the first residual sum, else the last return."""
        for index, step in enumerate(self.steps):
            for operands in _sums(step.statement):
                chain = self._best(operands, index, swapped=False)
                if any(hit.category == CONV and not hit.swapped for hit in chain.hits):
                    return chain
        return self.output_chain()

    def output_chain(self) -> Chain:
        """The chain feeding the last ``return``."""
        index = self._last_return()
        if index is None:
            return Chain(stop="forward returns nothing")
        return self._trace(self.steps[index].statement.value, index, swapped=False)

    def returned(self) -> cst.BaseExpression | None:
        """What the last ``return`` returns."""
        index = self._last_return()
        return self.steps[index].statement.value if index is not None else None

    def _last_return(self) -> int | None:
        for index in reversed(range(len(self.steps))):
            statement = self.steps[index].statement
            if isinstance(statement, cst.Return) and statement.value is not None:
                return index
        return None

    def inputs_of(self, attribute: str) -> list[Chain]:
        """For each call ``self.<attribute>(x)``, the chain that feeds ``x``."""
        chains = []
        for index, step in enumerate(self.steps):
            finder = _CallFinder(attribute)
            step.statement.visit(finder)
            chains += [self._trace(call.args[0].value, index, swapped=False) for call in finder.calls if call.args]
        return chains

    def _trace(self, expression: cst.BaseExpression, at: int, swapped: bool) -> Chain:
        return self._settle(self._follow(expression, at, swapped))

    def _settle(self, chain: Chain) -> Chain:
        """Read an opaque layer as keeping the width of the conv feeding it, where it does; else stop there."""
        settled = Chain(list(chain.hits), chain.stop)
        for index, hit in enumerate(settled.hits):
            if hit.category != OPAQUE:
                continue
            feeder = settled.first_layer(index + 1)
            if feeder is not None and feeder.category == CONV and self.keeps_width(hit.attribute, feeder.attribute):
                settled.hits[index] = replace(hit, category=PASS)
                continue
            return Chain(settled.hits[: index + 1], stop=f"self.{hit.attribute}")
        return settled

    def _follow(self, expression: cst.BaseExpression, at: int, swapped: bool) -> Chain:
        chain = Chain()
        while True:
            if isinstance(expression, cst.BinaryOperation):
                rest = self._best([expression.left, expression.right], at, swapped)
                chain.hits += rest.hits
                chain.stop = rest.stop
                return chain
            if isinstance(expression, cst.IfExp):
                expression = expression.body
                continue
            if isinstance(expression, cst.Name):
                found = self._assignment(expression.value, at)
                if not isinstance(found, tuple):
                    chain.stop = found
                    return chain
                expression, at = found
                continue
            step = self._through_call(expression, swapped, chain) if isinstance(expression, cst.Call) else None
            if step is None:
                chain.stop = chain.stop or code(expression)
                return chain
            expression, swapped = step

    def _through_call(self, call: cst.Call, swapped: bool, chain: Chain):
        """The call's input and layout after it, or None where tracing must stop."""
        attribute = called_self_attribute(call)
        if attribute:
            category = self.category(attribute)
            chain.hits.append(Hit(attribute, category, swapped))  # an opaque one is settled in _trace
            return (call.args[0].value, swapped) if call.args else None
        if isinstance(call.func, cst.Attribute) and not _is_module_path(call.func.value):
            method = call.func.attr.value
            if method in LAYOUT_SWAPS:
                return call.func.value, not swapped
            if method in LAYOUT_KEEPING or method in FUNCTIONAL_PRESERVING:
                return call.func.value, swapped
            return None
        name = (dotted_name(call.func) or "").rsplit(".", 1)[-1]
        if name in FUNCTIONAL_PRESERVING and call.args:
            return call.args[0].value, swapped
        return None

    def _best(self, operands: list[cst.BaseExpression], at: int, swapped: bool) -> Chain:
        """Of the operands of a sum or product, the one that went through most conv/norm layers."""
        chains = [self._trace(operand, at, swapped) for operand in operands]
        return max(chains, key=lambda chain: (_convs(chain), len(chain.hits)))

    def _assignment(self, name: str, at: int):
        """``(value, index)`` of the assignment of ``name`` that reaches step ``at``.

        An assignment in an ``if`` that does not enclose ``at`` is skipped when it
        refines the name (``if ...: x = self.gamma * x``); any other one, or one in
        a loop, makes the value unknown. Returns None for a parameter, else a
        string saying why not.
        """
        here = self.steps[at].blocks
        for index in reversed(range(at)):
            step = self.steps[index]
            value = _assigned_value(step.statement, name)
            if value is None:
                continue
            if here[: len(step.blocks)] == step.blocks:
                return value, index
            in_loop = any(block in self._loops for block in step.blocks[len(here) :])
            if in_loop or name not in free_names(value):
                return f"{name} (assigned inside a branch or loop)"
        return None if name in self.inputs else name


def _convs(chain: Chain) -> int:
    return sum(hit.category == CONV and not hit.swapped for hit in chain.hits)


def _is_module_path(node: cst.BaseExpression) -> bool:
    return dotted_name(node) in {"torch", "F", "nn", "torch.nn.functional", "nn.functional"}


def _assigned_value(statement: cst.BaseSmallStatement, name: str) -> cst.BaseExpression | None:
    """The value ``statement`` gives to ``name`` (``x += y`` reads as ``x + y``), if any."""
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        return statement.value if _is_name(statement.targets[0].target, name) else None
    if isinstance(statement, cst.AnnAssign) and statement.value is not None:
        return statement.value if _is_name(statement.target, name) else None
    if isinstance(statement, cst.AugAssign) and _is_name(statement.target, name):
        return cst.BinaryOperation(left=statement.target, operator=_binary(statement.operator), right=statement.value)
    return None


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _binary(operator: cst.BaseAugOp) -> cst.BaseBinaryOp:
    name = type(operator).__name__.removesuffix("Assign")
    return getattr(cst, name)()


def _sums(statement: cst.BaseSmallStatement) -> list[list[cst.BaseExpression]]:
    """Operand pairs of the additions in a statement (``a += b`` included), in order."""
    finder = _SumFinder()
    if isinstance(statement, cst.AugAssign) and isinstance(statement.operator, cst.AddAssign):
        finder.sums.append([statement.target, statement.value])
    statement.visit(finder)
    return finder.sums


class _CallFinder(cst.CSTVisitor):
    def __init__(self, attribute: str) -> None:
        self.attribute = attribute
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if called_self_attribute(node) == self.attribute:
            self.calls.append(node)


class _SumFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.sums: list[list[cst.BaseExpression]] = []

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Add) and not _is_constant(node.left) and not _is_constant(node.right):
            self.sums.append([node.left, node.right])


def _is_constant(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.Integer, cst.Float, cst.SimpleString))


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    star = [params.star_arg] if isinstance(params.star_arg, cst.Param) else []
    kwargs = [params.star_kwarg] if params.star_kwarg else []
    return [*params.posonly_params, *params.params, *star, *params.kwonly_params, *kwargs]
