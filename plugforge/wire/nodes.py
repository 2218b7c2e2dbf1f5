"""Small helpers to read and build libcst nodes."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence

import libcst as cst

from .errors import WireError

# Plain isinstance checks rather than libcst.matchers: importing matchers alone
# costs about 0.4 s, more than parsing a 2,000-line model file.

_PRINTER = cst.Module(body=[])
BUILTINS = frozenset(dir(builtins))  # names every module sees without defining them
SIMPLE_EXPRESSIONS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString)


def code(node: cst.CSTNode) -> str:
    """Source text of a node."""
    return _PRINTER.code_for_node(node).strip()


def short(node: cst.CSTNode, limit: int = 80) -> str:
    """Source text of a node on one line, cut to ``limit`` characters, for messages."""
    text = " ".join(code(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``nn.Conv2d`` for ``nn.Conv2d``; None for anything but names and attribute chains."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        prefix = dotted_name(node.value)
        return f"{prefix}.{node.attr.value}" if prefix else None
    return None


def callee(node: cst.BaseExpression) -> str | None:
    """Dotted name of the function a call expression calls."""
    return dotted_name(node.func) if isinstance(node, cst.Call) else None


def self_attribute(node: cst.CSTNode) -> str | None:
    """``conv`` for ``self.conv``."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def called_self_attribute(node: cst.CSTNode) -> str | None:
    """``conv`` for a call ``self.conv(...)``."""
    return self_attribute(node.func) if isinstance(node, cst.Call) else None


def make_self_attribute(name: str) -> cst.Attribute:
    return cst.Attribute(value=cst.Name("self"), attr=cst.Name(name))


def positional(value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value=value)


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    no_space = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
    return cst.Arg(value=value, keyword=cst.Name(name), equal=no_space)


def parse_expression(text: str, what: str) -> cst.BaseExpression:
    """Parse one expression given by the user; ``what`` names the request's field for the error."""
    try:
        return cst.parse_expression(text.strip())
    except cst.ParserSyntaxError:
        raise WireError(
            f"{what} must be one Python expression, got {text!r}; quote it, e.g. {what} 'planes * 4'"
        ) from None


def literal_int(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    return None


def literal_square(node: cst.BaseExpression | None) -> int | None:
    """``3`` for ``3`` or ``(3, 3)``."""
    if isinstance(node, cst.Tuple) and len(node.elements) == 2:
        first, second = (literal_int(element.value) for element in node.elements)
        return first if first == second else None
    return literal_int(node)


def parenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    """The node, parenthesized unless it binds tighter than any operator."""
    if isinstance(node, SIMPLE_EXPRESSIONS) or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def small_statements(line: cst.CSTNode) -> Sequence[cst.BaseSmallStatement]:
    return line.body if isinstance(line, cst.SimpleStatementLine) else ()


def assigned_self_attribute(line: cst.CSTNode) -> tuple[str, cst.BaseExpression] | None:
    """``("conv", value)`` for a line ``self.conv = value`` (or annotated)."""
    body = small_statements(line)
    if len(body) != 1:
        return None
    statement = body[0]
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        name = self_attribute(statement.targets[0].target)
        return (name, statement.value) if name else None
    if isinstance(statement, cst.AnnAssign) and statement.value is not None:
        name = self_attribute(statement.target)
        return (name, statement.value) if name else None
    return None


def nested_statements(block: cst.BaseSuite) -> Iterator[cst.BaseStatement]:
    """Statements of a body and of the if/for/with/try blocks in it, not of nested defs."""
    if not isinstance(block, cst.IndentedBlock):
        return
    for statement in block.body:
        yield statement
        for child in child_suites(statement):
            yield from nested_statements(child)


def child_suites(statement: cst.BaseStatement) -> list[cst.BaseSuite]:
    """Bodies of a compound statement (if/elif/else, for, while, with, try)."""
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef, cst.SimpleStatementLine)):
        return []
    suites = [statement.body] if hasattr(statement, "body") else []
    for part in ("orelse", "finalbody"):
        extra = getattr(statement, part, None)
        if isinstance(extra, cst.If):
            suites += child_suites(extra)
        elif extra is not None:
            suites.append(extra.body)
    for handler in getattr(statement, "handlers", ()):
        suites.append(handler.body)
    return suites


def is_blank(line: cst.EmptyLine) -> bool:
    return line.comment is None


def comment_line(text: str) -> cst.EmptyLine:
    return cst.EmptyLine(comment=cst.Comment(text))


def has_comment(lines: Sequence[cst.EmptyLine], text: str) -> bool:
    return any(line.comment is not None and line.comment.value == text for line in lines)


def free_names(node: cst.CSTNode) -> set[str]:
    """Names a node reads or defines, leaving out attribute and keyword names."""
    collector = _NameCollector()
    node.visit(collector)
    return collector.names


def names_read(statements) -> set[str]:
    return set().union(*(free_names(statement) for statement in statements))


class _NameCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def indentation_of(tree: cst.CSTNode, target: cst.CSTNode, default_indent: str) -> str:
    """The whole indentation string of ``target`` inside ``tree`` (a top-level node)."""
    finder = _IndentFinder(target, default_indent)
    tree.visit(finder)
    return finder.found or ""


class _IndentFinder(cst.CSTVisitor):
    def __init__(self, target: cst.CSTNode, default_indent: str) -> None:
        self.target, self.default_indent = target, default_indent
        self.stack: list[str] = []
        self.found: str | None = None

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.stack.append(node.indent if node.indent is not None else self.default_indent)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.stack.pop()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.target:
            self.found = "".join(self.stack)
        return super().on_visit(node)
