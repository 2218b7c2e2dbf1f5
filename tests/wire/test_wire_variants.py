"""Round trips on every corpus file rewritten with other line endings, headers and imports."""

from __future__ import annotations

import re

import pytest
from wire_helpers import CORPUS, STAND_INS, corpus_source

from plugforge.wire import Source, WireError, add, module_classes, remove

IMPORT_LINE = re.compile(r"(?m)^(import .*|from .* import .*)\r?\n")
VARIANTS = {
    "no-final-newline": lambda text: text.rstrip("\r\n"),
    "crlf-bom": lambda text: "\ufeff" + text.lstrip("\ufeff").replace("\r\n", "\n").replace("\n", "\r\n"),
    "no-imports": lambda text: IMPORT_LINE.sub("", text),
    "shebang-header": lambda text: "#!/usr/bin/env python\n# Copyright\n\n" + text.lstrip("\ufeff"),
    "docstring-only": lambda text: '"""Doc."""\n' + IMPORT_LINE.sub("", text.lstrip("\ufeff")),
}
FILES = sorted(str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.py") if "class " in path.read_text())


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", FILES)
def test_default_wiring_round_trips(name, variant):
    text = VARIANTS[variant](corpus_source(name))
    wired_any = False
    for class_name in module_classes(text):
        for block_id in ("gate", "conv3") if variant in ("crlf-bom", "shebang-header") else ("gate",):
            block, code = STAND_INS[block_id]
            for origin in (Source(module=f"blocks.{block_id}"), Source(inline_code=code)):
                try:
                    wired = add(text, block, origin, name="blk", class_name=class_name)
                except WireError:
                    continue  # no default position in this class
                wired_any = True
                undo = next((m.split()[-1] for m in wired.messages if "by the name" in m), None)
                undo = undo or next(
                    (m.split("`remove ")[1].split("`")[0] for m in wired.messages if "`remove " in m), "blk"
                )
                assert remove(wired.source, undo, class_name).source == text
                assert add(wired.source, block, origin, name="blk", class_name=class_name).source == wired.source
                compile(wired.source.lstrip("\ufeff"), name, "exec")
    assert wired_any or name in ("vgg.py", "mobilenetv2.py")
