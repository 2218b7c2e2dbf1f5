"""``Source.inline_code``: the block's code pasted into the model file between marker comments.

The markers (``# >>> plugforge inline: X`` / ``# <<< plugforge inline: X``) let
``remove`` take out exactly what was added, and no more.
"""

from __future__ import annotations

import libcst as cst

from .errors import WireError
from .imports import (
    INLINE_BEGIN,
    bindings,
    defined_names,
    insertion_index,
    is_import_line,
    leading_lines,
    module_bindings,
)
from .nodes import code, comment_line, has_comment, names_read

INLINE_END = "# <<< plugforge inline: "
BLANK = cst.EmptyLine()


def inline(module: cst.Module, class_name: str, source: str) -> tuple[cst.Module, list[str]]:
    """Insert the parts of ``source`` the file lacks after its imports."""
    snippet = _parse_snippet(source, module.default_newline, class_name)
    imports, definitions, reused = _missing_parts(module, snippet, class_name)
    if not definitions:
        return module, [f"{class_name} is already defined in the file; reused it"]
    reindent = _UseFileIndent(snippet.default_indent, module.default_indent)
    region = _layout(class_name, imports, [statement.visit(reindent) for statement in definitions], snippet.header)
    index = insertion_index(module)
    end = [BLANK, BLANK, comment_line(INLINE_END + class_name)]
    body, footer = list(module.body), module.footer
    if index < len(body):
        body[index] = body[index].with_changes(leading_lines=[*end, *body[index].leading_lines])
    else:
        footer = [*end, *footer]
    body[index:index] = region
    names = ", ".join(sorted(defined_names(definitions)))
    messages = [f"inlined {names}" + (f" (+ {len(imports)} import line(s))" if imports else "")]
    if reused:
        messages.append(f"reused {', '.join(sorted(reused))} already defined in the file")
    return module.with_changes(body=body, footer=footer), messages


def remove_inlined(module: cst.Module, class_name: str) -> tuple[cst.Module, list[str]]:
    """Take out the inlined code of ``class_name`` unless something outside still uses it."""
    region = _find(module, class_name)
    if region is None:
        return module, []
    start, end = region
    body = list(module.body)
    still_used = defined_names(body[start:end]) & names_read([*body[:start], *body[end:]])
    if still_used:
        return module, [f"kept the inlined code of {class_name}: {', '.join(sorted(still_used))} still used"]
    kept = _before_begin(module, start, class_name)
    header = [] if start == 0 else module.header
    del body[start:end]
    message = [f"removed the inlined code of {class_name}"]
    if start < len(body):
        lines = [*kept, *_after_end(body[start].leading_lines, class_name)]
        body[start] = body[start].with_changes(leading_lines=lines)
        return module.with_changes(header=header, body=body), message
    footer = [*kept, *_after_end(module.footer, class_name)]
    return module.with_changes(header=header, body=body, footer=footer), message


def inlined_names(module: cst.Module) -> set[str]:
    """Names defined inside inlined regions."""
    names: set[str] = set()
    for start, end in _regions(module):
        names |= defined_names(module.body[start:end])
    return names


def _regions(module: cst.Module) -> list[tuple[int, int]]:
    """``(start, end)`` of every inlined region, by the class named in its markers."""
    found = []
    for index in range(len(module.body)):
        for line in leading_lines(module, index):
            if line.comment is not None and line.comment.value.startswith(INLINE_BEGIN):
                found.append(_find(module, line.comment.value[len(INLINE_BEGIN) :]))
    return found


def _parse_snippet(source: str, newline: str, class_name: str) -> cst.Module:
    text = source.replace("\r\n", "\n").replace("\n", newline)
    try:
        snippet = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        raise WireError(f"the inline code of {class_name} does not parse ({error.message}); regenerate it") from None
    if class_name not in defined_names(snippet.body):
        raise WireError(f"the inline code does not define {class_name}; pass the code that defines it")
    return snippet


def _missing_parts(module: cst.Module, snippet: cst.Module, class_name: str):
    """The snippet's import lines the file lacks, its definitions the file lacks, and the reused names.

    A definition is reused only from code plugforge inlined (between its markers);
    a name the file defines itself is another class that happens to share the name.
    """
    present, defined, ours = module_bindings(module), defined_names(module.body), inlined_names(module)
    imports, definitions, reused, clashes = [], [], set(), set()
    for statement in snippet.body:
        if is_import_line(statement):
            needed = _needed_import(statement, present, defined)
            imports += [needed] if needed else []
            continue
        names = defined_names([statement])
        if names and names <= ours:
            reused |= names
        else:
            clashes |= names & (defined | set(present))
            definitions.append(statement)
    if clashes:
        raise WireError(_clash(sorted(clashes), class_name))
    return imports, definitions, reused


def _clash(names: list[str], class_name: str) -> str:
    listed, those = ", ".join(names), "those names" if len(names) > 1 else "that name"
    fix = (
        f"rename your {listed} (and the uses), or wire the block into a file that does not define {class_name}"
        if class_name in names
        else f"rename your {listed}, or wire without ⟨inline⟩ (a .py file only): the block and its helpers then "
        "live in their own module under blocks/"
    )
    return (
        f"the file already has its own {listed}, not plugforge's inlined copy, and ⟨inline⟩ would need {those} "
        f"for the ⟨library⟩'s {class_name}; plugforge does not reuse or replace your code: {fix}"
    )


def _needed_import(statement: cst.SimpleStatementLine, present: dict, defined: set) -> cst.CSTNode | None:
    for name, target in bindings(statement).items():
        if (name in present and present[name] != target) or (name not in present and name in defined):
            raise WireError(
                f"the inlined code needs `{code(statement)}` but the file already uses the name {name} "
                f"for something else; rename it in the file, or wire without ⟨inline⟩"
            )
    missing = {name for name, target in bindings(statement).items() if present.get(name) != target}
    if not missing:
        return None
    if missing == set(bindings(statement)):
        return statement
    raise WireError(
        f"the inlined code's `{code(statement)}` is partly present in the file; "
        f"add the missing names ({', '.join(sorted(missing))}) to the file's imports and run again"
    )


def _layout(class_name: str, imports: list, definitions: list, header) -> list[cst.CSTNode]:
    """Region statements: imports tight, two blank lines before each definition, markers first."""
    intro = [line for line in header if line.comment is not None]
    statements = [statement.with_changes(leading_lines=[]) for statement in imports]
    statements += [_spaced(statement) for statement in definitions]
    opening = [BLANK] if imports else [BLANK, BLANK]
    first = statements[0]
    comments = [line for line in first.leading_lines if line.comment is not None]
    statements[0] = first.with_changes(
        leading_lines=[*opening, comment_line(INLINE_BEGIN + class_name), *intro, *comments]
    )
    return statements


def _spaced(statement: cst.CSTNode) -> cst.CSTNode:
    comments = [line for line in statement.leading_lines if line.comment is not None]
    return statement.with_changes(leading_lines=[BLANK, BLANK, *comments])


class _UseFileIndent(cst.CSTTransformer):
    """Indentation of the file instead of the snippet's (tabs stay tabs), in blocks and brackets."""

    def __init__(self, snippet_indent: str, file_indent: str) -> None:
        self.snippet_indent, self.file_indent = snippet_indent, file_indent

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        return updated.with_changes(indent=None)

    def leave_ParenthesizedWhitespace(
        self, original: cst.ParenthesizedWhitespace, updated: cst.ParenthesizedWhitespace
    ) -> cst.ParenthesizedWhitespace:
        levels, rest = divmod(len(updated.last_line.value), len(self.snippet_indent))
        if not updated.indent or rest or updated.last_line.value != self.snippet_indent * levels:
            return updated
        return updated.with_changes(last_line=cst.SimpleWhitespace(self.file_indent * levels))


def _find(module: cst.Module, class_name: str) -> tuple[int, int] | None:
    begin, end = INLINE_BEGIN + class_name, INLINE_END + class_name
    count = len(module.body)
    start = next((i for i in range(count) if has_comment(leading_lines(module, i), begin)), None)
    if start is None:
        return None
    for index in range(start + 1, count):
        if has_comment(leading_lines(module, index), end):
            return start, index
    if has_comment(module.footer, end):
        return start, count
    raise WireError(
        f"the inlined code of {class_name} has no closing `{end}` line; restore it, or delete that code by hand"
    )


def _before_begin(module: cst.Module, start: int, class_name: str) -> list[cst.EmptyLine]:
    """Lines above a region's begin marker that were there before it (file header, another region's end)."""
    first, lines = module.body[start], leading_lines(module, start)
    begin = next(i for i, line in enumerate(lines) if line.comment and line.comment.value == INLINE_BEGIN + class_name)
    opening = 1 if is_import_line(first) else 2  # the blank lines _layout put there
    return list(lines[: max(begin - opening, 0)])


def _after_end(lines, class_name: str) -> list[cst.EmptyLine]:
    """The lines after the end marker (the ones before it were added with the region)."""
    end = INLINE_END + class_name
    index = next(i for i, line in enumerate(lines) if line.comment is not None and line.comment.value == end)
    return list(lines[index + 1 :])
