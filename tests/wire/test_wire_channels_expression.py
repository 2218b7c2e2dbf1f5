"""``--channels`` is written into ``__init__`` as given, so it must make sense where the block is built."""

from __future__ import annotations

import textwrap

import pytest
from wire_helpers import GATE

from plugforge.wire import Source, WireError, add

BLOCKS = Source(module="blocks.gate")

MODEL = textwrap.dedent("""
    import torch
    from torch import nn

    WIDTH = 64


    class Net(nn.Module):
        expansion = 4

        def __init__(self, c, widths=(8, 16), *, cfg=None):
            super().__init__()
            hidden = c * 2
            self.stem = nn.Conv2d(3, c, 3, padding=1)
            for i in range(2):
                last = widths[i]
            self.body = nn.Conv2d(c, hidden, 3, padding=1)
            self.features = nn.Sequential(nn.Conv2d(hidden, hidden, 1), nn.ReLU())
            self.head = nn.Conv2d(hidden, c, 1)
            wide = c * 8

        def forward(self, x):
            return self.head(self.features(self.body(self.stem(x))))
""").lstrip()

ACCEPTED = [
    "c", "hidden * 2", "c * self.expansion", "self.stem.out_channels", "widths[-1]", "widths[i] + last",
    "int(c * 1.5)", "max(c, 8) // 2", "round(c / 3)", "min(c, hidden)", "WIDTH", "-(-c // 2)", "(c + 1) ** 2 % 7",
    "cfg.width", "self.body.out_channels", "self.expansion",
]  # fmt: skip

REFUSED = {
    "width * 2": "width is not defined in Net.__init__ after self.body; names there: c, cfg, hidden, i, last, widths",
    "wide": "wide is not defined",
    "__import__('os').system('echo pwned')": "it calls __import__('os').system(), and only int, round, max, min",
    "len(widths)": "it calls len()",
    "self.make(c)": "it calls self.make()",
    "self.head.out_channels": "self.head is assigned only after the block is built",
    "self.missing": "self.missing is not assigned in Net.__init__ after self.body",
    "c if c else 4": "a conditional expression",
    "c > 2": "a comparison",
    "'64'": "a string",
    "widths[0:1]": "a slice is not a channel count",
    "max(*widths)": "max() takes plain positional arguments here",
    "[c][0] + 1": "it uses a list",
    "(lambda: 3)()": "it calls (lambda: 3)()",
    "c | 4": "a bitwise operator",
}


@pytest.mark.parametrize("expression", ACCEPTED)
def test_plain_arithmetic_over_names_in_scope_is_written(expression):
    result = add(MODEL, GATE, BLOCKS, name="gate", after="body", channels=expression)
    assert f"self.gate = Gate({expression}, reduction=2)" in result.source


@pytest.mark.parametrize("expression", REFUSED)
def test_anything_else_is_refused_with_the_reason(expression):
    with pytest.raises(WireError, match="may use only names in scope") as error:
        add(MODEL, GATE, BLOCKS, name="gate", after="body", channels=expression)
    assert REFUSED[expression] in str(error.value)


def test_the_scope_is_the_insertion_point():
    add(MODEL, GATE, BLOCKS, name="gate", after="head", channels="self.head.out_channels")
    with pytest.raises(WireError, match="self.body is assigned only after the block is built"):
        add(MODEL, GATE, BLOCKS, name="gate", before="body", channels="self.body.out_channels")
    with pytest.raises(WireError, match="last is not defined in Net.__init__ before self.stem; names there: c, cfg, hidden, widths"):
        add(MODEL, GATE, BLOCKS, name="gate", before="stem", channels="last")


def test_a_sequential_element_sees_what_is_bound_before_the_sequential():
    result = add(MODEL, GATE, BLOCKS, name="gate", after="features.0", channels="hidden")
    assert "nn.Conv2d(hidden, hidden, 1), Gate(hidden, reduction=2)" in result.source
    with pytest.raises(WireError, match="self.features is assigned only after"):
        add(MODEL, GATE, BLOCKS, name="gate", after="features.0", channels="self.features[0].out_channels")


def test_an_inherited_attribute_cannot_be_checked_and_is_allowed():
    derived = MODEL.replace("class Net(nn.Module):", "class Base(nn.Module):\n    pass\n\n\nclass Net(Base):")
    result = add(derived, GATE, BLOCKS, name="gate", class_name="Net", after="body", channels="self.base_width")
    assert "Gate(self.base_width, reduction=2)" in result.source


def test_the_cli_refuses_before_writing(model):
    from tests.conftest import invoke

    before = model.read_bytes()
    result = invoke("add", "se", "--into", model, "--after", "bn2", "--channels", "__import__('os').getcwd()")
    assert result.exit_code == 1 and "only int, round, max, min may be called" in result.output
    assert model.read_bytes() == before and not (model.parent / "blocks").exists()
