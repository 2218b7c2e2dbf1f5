"""Parsing and printing a file while keeping what libcst does not: the BOM."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from .errors import WireError

BOM = "\ufeff"


@dataclass(frozen=True)
class Document:
    module: cst.Module
    bom: str = ""

    def render(self, module: cst.Module) -> str:
        return self.bom + module.code


def parse(source: str) -> Document:
    """Parse a model file, reporting syntax errors with their position."""
    bom = BOM if source.startswith(BOM) else ""
    try:
        return Document(cst.parse_module(source[len(bom) :]), bom)
    except cst.ParserSyntaxError as error:
        line, column, message = _syntax_error(source[len(bom) :], error)
        raise WireError(
            f"syntax error at line {line}, column {column}: {message}; fix the file, then run again"
        ) from None


def _syntax_error(source: str, error: cst.ParserSyntaxError) -> tuple[int, int, str]:
    """Position and message of a syntax error, from Python's own parser when it agrees."""
    try:
        ast.parse(source)
    except SyntaxError as python_error:
        return python_error.lineno or 1, python_error.offset or 1, python_error.msg
    return error.editor_line, error.editor_column, error.message
