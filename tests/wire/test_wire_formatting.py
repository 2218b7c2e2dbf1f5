"""Only the inserted lines are new: line endings, BOM, tabs, comments and quotes are kept."""

from __future__ import annotations

import difflib

import pytest
from wire_helpers import CONV3, GATE, STAND_INS, TOKEN, corpus_source, inline_source

from plugforge.wire import Source, add, remove

BLOCKS = Source(module="blocks.gate")


@pytest.mark.parametrize("origin", [BLOCKS, inline_source("gate")], ids=["import", "inline"])
def test_crlf_and_bom_are_kept_and_new_lines_use_crlf(origin):
    original = corpus_source("crlf_bom.py")
    wired = add(original, GATE, origin, name="gate").source
    assert wired.startswith("\ufeff# -*- coding: utf-8 -*-\r\n")
    assert "\n" not in wired.replace("\r\n", "")
    assert remove(wired, "gate").source == original


@pytest.mark.parametrize("name", ["resnet.py", "vgg.py", "unet.py"])
def test_crlf_and_bom_variants_of_any_file(name):
    original = "\ufeff" + corpus_source(name).replace("\n", "\r\n")
    options = {"vgg.py": {"after": "features.1"}, "unet.py": {"class_name": "DoubleConv"}}.get(
        name, {"class_name": "Bottleneck"}
    )
    wired = add(original, GATE, inline_source("gate"), name="gate", **options)
    assert wired.source.startswith("\ufeff") and "\n" not in wired.source.replace("\r\n", "")
    undo = next((message.rsplit(" ", 1)[-1] for message in wired.messages if "by the name" in message), "gate")
    assert remove(wired.source, undo, options.get("class_name")).source == original


def test_tabs_stay_tabs_in_inserted_and_inlined_code():
    wired = add(corpus_source("tabs_annotated.py"), GATE, inline_source("gate"), name="gate").source
    assert not [line for line in wired.splitlines() if line.startswith(" ")]
    assert "\t\t\tnn.Linear(channels, _hidden(channels, reduction)),\n" in wired


@pytest.mark.parametrize(
    ("name", "options", "anchor"),
    [
        ("resnet.py", {"class_name": "Bottleneck"}, "bn3"),
        ("yolo.py", {"class_name": "Bottleneck"}, "cv2"),
        ("tabs_annotated.py", {}, "norm_out"),
        ("convnext.py", {}, "dwconv"),
    ],
)
def test_only_wrapped_lines_change_and_everything_else_is_inserted(name, options, anchor):
    original = corpus_source(name).splitlines(keepends=True)
    wired = add("".join(original), GATE, BLOCKS, name="gate", **options).source.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=original, b=wired, autojunk=False)
    for tag, start, end, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            assert all(f"self.{anchor}(" in line for line in original[start:end])
    kept = [line for line in original if f"self.{anchor}(" not in line]
    assert all(line in wired for line in kept)  # comments, blank lines, annotations, quotes


def test_insert_before_keeps_the_anchor_comment_with_the_anchor():
    text = corpus_source("tabs_annotated.py")
    wired = add(text, GATE, BLOCKS, name="gate", before="conv_out").source
    assert (
        "\t\tself.act: nn.Module = nn.SiLU()\n\n\t\tself.gate = Gate(hidden, reduction=2)\n\t\t# project back\n"
        in wired
    )
    assert remove(wired, "gate").source == text


def test_new_import_goes_after_the_last_import_of_the_header():
    text = corpus_source("pkg/model.py")
    wired = add(text, GATE, Source(module="blocks.gate", level=1), name="gate").source
    assert wired.startswith(
        "from torch import nn\n\nfrom .layers import conv1x1, conv3x3\nfrom .blocks.gate import Gate\n"
    )


def test_new_import_after_docstring_and_future_when_nothing_else_is_imported():
    text = '"""Doc."""\nfrom __future__ import annotations\n\n\nclass A(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.bn = torch.nn.BatchNorm2d(4)\n\n    def forward(self, x):\n        return self.bn(x)\n'
    wired = add(text, GATE, BLOCKS, name="gate").source
    assert wired.startswith('"""Doc."""\nfrom __future__ import annotations\nfrom blocks.gate import Gate\n\n\nclass A')
    bare = text.replace('"""Doc."""\nfrom __future__ import annotations\n\n\n', "")
    assert add(bare, GATE, BLOCKS, name="gate").source.startswith("from blocks.gate import Gate\nclass A")


def test_inline_skips_imports_and_definitions_already_present():
    text = corpus_source("unet.py")  # already imports torch, nn and F
    wired = add(text, GATE, inline_source("gate"), name="gate", class_name="DoubleConv")
    region = wired.source[wired.source.index("# >>>") : wired.source.index("# <<<")]
    assert "import" not in region.splitlines()[1]
    assert "inlined Gate, _hidden" in wired.messages


def test_two_instances_of_one_inlined_block_share_the_code():
    text = corpus_source("resnet.py")
    first = add(text, GATE, inline_source("gate"), name="gate", class_name="Bottleneck", after="bn1").source
    second = add(first, GATE, inline_source("gate"), name="gate2", class_name="Bottleneck", after="bn2")
    assert second.source.count("class Gate(") == 1
    assert "Gate is already defined in the file; reused it" in second.messages
    kept = remove(second.source, "gate", "Bottleneck")
    assert "class Gate(" in kept.source and any("still used" in message for message in kept.messages)
    assert remove(kept.source, "gate2", "Bottleneck").source == text


def test_two_different_inlined_blocks_undo_in_any_order():
    text = corpus_source("convnext.py")
    both = add(text, GATE, inline_source("gate"), name="gate").source
    both = add(both, TOKEN, inline_source("token"), name="scale", after="pwconv2").source
    assert both.index("# >>> plugforge inline: TokenScale") < both.index("# >>> plugforge inline: Gate")
    assert remove(remove(both, "gate").source, "scale").source == text
    assert remove(remove(both, "scale").source, "gate").source == text


def test_two_imported_instances_keep_the_import_until_the_last_goes():
    text = corpus_source("resnet.py")
    first = add(text, GATE, BLOCKS, name="gate", class_name="BasicBlock").source
    second = add(first, GATE, BLOCKS, name="gate", class_name="Bottleneck").source
    assert second.count("from blocks.gate import Gate") == 1
    partial = remove(second, "gate", "BasicBlock")
    assert partial.removed_origins == [] and "from blocks.gate import Gate" in partial.source
    last = remove(partial.source, "gate", "Bottleneck")
    assert last.source == text and last.removed_origins == ["blocks.gate"]


def test_replace_keeps_the_original_as_a_comment_and_restores_it():
    text = corpus_source("crlf_bom.py")
    wired = add(text, CONV3, BLOCKS.__class__(module="blocks.conv3"), name="conv3").source
    assert "        # plugforge replaced: self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)  # 3x3\r\n" in wired
    assert remove(wired, "conv").source == text


def test_sequential_insertion_layouts():
    text = (
        "from torch import nn\n\n\nclass S(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n"
        "        self.one = nn.Sequential(nn.Conv2d(c, c, 1))\n"
        "        self.body = nn.Sequential(\n            nn.Conv2d(c, c, 3, padding=1),  # first\n"
        "            nn.BatchNorm2d(c),\n        )\n\n    def forward(self, x):\n        return self.body(self.one(x))\n"
    )
    cases = {
        ("after", "one.0"): "nn.Sequential(nn.Conv2d(c, c, 1), Gate(c, reduction=2))",
        ("before", "one.0"): "nn.Sequential(Gate(c, reduction=2), nn.Conv2d(c, c, 1))",
        ("after", "body.0"): "  # first\n            Gate(c, reduction=2),\n            nn.BatchNorm2d(c),\n        )",
        ("after", "body.1"): "nn.BatchNorm2d(c),\n            Gate(c, reduction=2),\n        )",
        (
            "before",
            "body.0",
        ): "(\n            Gate(c, reduction=2),\n            nn.Conv2d(c, c, 3, padding=1),  # first\n",
    }
    for (mode, anchor), expected in cases.items():
        wired = add(text, GATE, BLOCKS, name="gate", **{mode: anchor})
        assert expected in wired.source
        assert wired.source.count("# first") == 1
        path = wired.messages[0].split("as ", 1)[1].split(" ", 1)[0]
        assert remove(wired.source, path).source == text


@pytest.mark.parametrize("block_id", ["gate", "conv3"])
@pytest.mark.parametrize("inline", [False, True], ids=["import", "inline"])
def test_wiring_a_black_clean_file_keeps_it_black_clean(block_id, inline):
    black = pytest.importorskip("black")
    mode = black.Mode(line_length=120)
    text = corpus_source("resnet.py")
    assert black.format_str(text, mode=mode) == text
    block, code = STAND_INS[block_id]
    origin = Source(inline_code=code) if inline else Source(module=f"blocks.{block_id}")
    wired = add(text, block, origin, name="blk", class_name="Bottleneck").source
    assert black.format_str(wired, mode=mode) == wired
