"""A block's rules decided over the source text of a replaced layer's arguments."""

import pytest

from plugforge.wire.rules import holds, value_of


def values(**texts):
    return {name: value_of(text, name) for name, text in texts.items()}


@pytest.mark.parametrize(
    ("rule", "texts", "expected"),
    [
        ("out_channels == in_channels", {"in_channels": "planes", "out_channels": "planes"}, True),
        ("out_channels == in_channels", {"in_channels": "inplanes", "out_channels": "planes"}, None),
        ("out_channels == in_channels", {"in_channels": "16", "out_channels": "32"}, False),
        ("out_channels >= in_channels", {"in_channels": "c", "out_channels": "c"}, True),
        ("kernel_size >= 3", {"kernel_size": "(3, 3)"}, True),
        ("kernel_size >= 3", {"kernel_size": "1"}, False),
        ("kernel_size >= 3", {"kernel_size": "k"}, None),
        ("kernel_size >= 1", {"kernel_size": "k"}, True),  # any conv's kernel is at least 1
        ("kernel_size % 2 == 1", {"kernel_size": "(3, 1)"}, False),  # a non-square pair fits no int rule
        ("padding is None or padding >= 0", {"padding": "autopad(k, p, d)"}, True),
        ("not depthwise or out_channels == in_channels", {"depthwise": "False", "in_channels": "a", "out_channels": "b"}, True),
        ("(in_channels + 2) % groups == 0", {"in_channels": "c", "groups": "1"}, True),
        ("out_channels % groups == 0", {"out_channels": "c", "groups": "g"}, True),  # nn.Conv2d's own rule
        ("(in_channels + 2) % groups == 0", {"in_channels": "c", "groups": "g"}, None),
        ("groups is not None or out_channels % in_channels == 0", {"groups": "dim", "in_channels": "dim", "out_channels": "dim"}, True),
        ("groups is None", {"groups": "dim"}, False),  # a conv's groups is a number
        ("padding is None", {"padding": "p"}, False),
        ("x is None", {"x": "y"}, None),  # not a conv argument: could be None
    ],
)
def test_holds(rule, texts, expected):
    assert holds(rule, values(**texts)) is expected
