"""The wire package knows source code, not the tool around it: its messages name the request's
fields (``⟨after⟩``), and ``plugforge.wiring`` words them with the command line's options."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from plugforge import wiring
from plugforge.cli import main
from plugforge.wire import FIELD
from plugforge.wire.datatypes import POSITIONS

WIRE = Path(wiring.__file__).parents[1] / "wire"
# Copied into the user's project as ``_register.py``: its error is raised there, where no caller words it.
RUNS_IN_THE_USERS_PROJECT = {"yolo_register.py"}
TOOL_WORDS = re.compile(
    r"(?<![\w-])--[a-z{]|\bcatalog\b|\bplugforge (?:" + "|".join(sorted(main.commands, key=len, reverse=True)) + r")\b"
)


def literals(source: str) -> list[str]:
    """The string literals of a module as written (an f-string whole), docstrings left out."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    return [
        ast.get_source_segment(source, node)
        for node in ast.walk(tree)
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) or isinstance(node, ast.JoinedStr))
        and id(node) not in docstrings | parts
    ]


def tool_words(source: str) -> list[str]:
    return [literal for literal in literals(source) if TOOL_WORDS.search(literal)]


def wire_sources() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(WIRE.glob("*.py"))}


def test_the_check_finds_options_commands_and_the_catalog():
    source = '''
def f(mode, name):
    """Docstrings may say --after, like ``plugforge add``."""
    return [f"--{mode} {name}", "use --channels EXPR", "`plugforge remove gate`", "the catalog's block", "a--b"]
'''
    assert tool_words(source) == ['f"--{mode} {name}"', '"use --channels EXPR"', '"`plugforge remove gate`"',
                                  '"the catalog\'s block"']  # fmt: skip


def test_wire_messages_name_no_option_command_or_catalog():
    found = {
        name: tool_words(source) for name, source in wire_sources().items() if name not in RUNS_IN_THE_USERS_PROJECT
    }
    assert {name: words for name, words in found.items() if words} == {}


def test_every_field_the_wire_package_names_is_worded_and_every_wording_is_used():
    named = {field for source in wire_sources().values() for text in literals(source) for field in FIELD.findall(text)}
    assert named | set(POSITIONS) == set(wiring.WORDS)  # ⟨{mode}⟩ names one of the positions


def test_worded_puts_the_options_in():
    message = "no default position in M; choose one with ⟨after⟩/⟨before⟩ ATTR (⟨replace⟩ ATTR for replace blocks)"
    assert wiring.worded(message) == (
        "no default position in M; choose one with --after/--before ATTR (--replace ATTR for replace blocks)"
    )
    worded = wiring.worded("run `⟨remove⟩ gate` first; the ⟨library⟩'s Gate")
    assert worded == "run `plugforge remove gate` first; the catalog's Gate"
