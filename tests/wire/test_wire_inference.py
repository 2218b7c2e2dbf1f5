"""Classes, anchors, channel expressions, default positions and replace argument mapping."""

from __future__ import annotations

import textwrap

import pytest
from wire_helpers import CONV3, GATE, POOL, corpus_source, inline_source, said

from plugforge.wire import Anchor, Block, Source, add, anchors, module_classes

BLOCKS = Source(module="blocks.gate")


def model(init: str, forward: str = "return x", prelude: str = "") -> str:
    """A one-class model file around the given ``__init__`` and ``forward`` bodies."""
    return (
        "import torch\nfrom torch import nn\n\n"
        + textwrap.dedent(prelude)
        + "\n\nclass M(nn.Module):\n    def __init__(self, c, d):\n        super().__init__()\n"
        + textwrap.indent(textwrap.dedent(init).strip(), " " * 8)
        + "\n\n    def forward(self, x):\n"
        + textwrap.indent(textwrap.dedent(forward).strip(), " " * 8)
        + "\n"
    )


def channels_of(text: str, name: str) -> str | None:
    return {anchor.name: anchor.channels for anchor in anchors(text, "M")}[name]


def test_module_classes_lists_nn_modules_including_subclasses_of_file_classes():
    assert module_classes(corpus_source("resnet.py")) == ["BasicBlock", "Bottleneck", "ResNet"]
    text = "import torch\nfrom torch.nn import Module\n\n\nclass A(Module):\n    pass\n\n\nclass B(A):\n    pass\n\n\nclass C:\n    pass\n\n\nclass D(torch.nn.Sequential):\n    pass\n"
    assert module_classes(text) == ["A", "B", "D"]


def test_module_classes_leaves_out_inlined_blocks():
    wired = add(corpus_source("convnext.py"), GATE, inline_source("gate"), name="gate").source
    assert module_classes(wired) == ["ConvNeXtBlock"]


def test_anchors_of_a_bottleneck():
    found = {anchor.name: anchor for anchor in anchors(corpus_source("resnet.py"), "Bottleneck")}
    assert found["conv1"] == Anchor("conv1", "conv1x1(inplanes, width)", "width", "called 1x")
    assert found["conv3"].channels == "planes * self.expansion"
    assert found["relu"] == Anchor("relu", "nn.ReLU(inplace=True)", None, "called 3x")
    assert found["downsample"] == Anchor("downsample", "downsample", None, "called 1x")
    assert "stride" not in found


def test_anchors_of_sequential_elements():
    found = {anchor.name: anchor for anchor in anchors(corpus_source("vgg.py"))}
    assert found["features.6.1"] == Anchor("features.6.1", "nn.BatchNorm2d(32)", "32", "inside Sequential")
    assert found["features.2"].channels == "16"  # nearest channel-bearing element before it
    assert found["features"].channels == "32"


@pytest.mark.parametrize(
    ("constructor", "expected"),
    [
        ("nn.Conv2d(c, d * 2, 3)", "d * 2"),
        ("nn.Conv2d(in_channels=c, out_channels=d, kernel_size=1)", "d"),
        ("torch.nn.Conv1d(c, d, 1)", "d"),
        ("nn.ConvTranspose2d(c, c // 2, 2, stride=2)", "c // 2"),
        ("nn.BatchNorm2d(num_features=d)", "d"),
        ("nn.InstanceNorm2d(d, affine=True)", "d"),
        ("nn.GroupNorm(8, d)", "d"),
        ("nn.GroupNorm(num_groups=8, num_channels=d)", "d"),
        ("nn.LayerNorm(d)", "d"),
        ("nn.LayerNorm([d])", "d"),
        ("nn.LayerNorm((d, 7, 7))", None),
        ("nn.Linear(c, 4 * d)", "4 * d"),
        ("nn.Sequential(nn.Conv2d(c, d, 1), nn.BatchNorm2d(d), nn.ReLU())", "d"),
        ("nn.Sequential(nn.Conv2d(c, d, 1), nn.Sequential(nn.Conv2d(d, c + d, 1), nn.ReLU()))", "c + d"),
        ("nn.Sequential(*[nn.Conv2d(c, d, 1)])", "d"),
        ("conv3x3(c, d)", "d"),
        ("conv3x3(c, out_planes=d + 1)", "d + 1"),
        ("conv_bn(c, d)", "d"),
        ("conv_bn(c)", "64"),
        ("padded(c, d)", None),
        ("Conv(c, d, 3)", "d"),
        ("Wrapped(c, d)", "d * 2"),
        ("LayerNorm2d(d)", "d"),
        ("SomeAttention(d)", None),
        ("nn.ReLU()", None),
    ],
)
def test_channel_expression_is_read_from_the_constructor(constructor, expected):
    prelude = """
        def conv3x3(in_planes, out_planes, stride=1):
            return nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)


        def conv_bn(inp, oup=64):
            return nn.Sequential(nn.Conv2d(inp, oup, 3, 1, 1, bias=False), nn.BatchNorm2d(oup), nn.ReLU6())


        def padded(inp, oup):
            width = oup * 2
            return nn.Conv2d(inp, width, 3, padding=1)


        class Conv(nn.Module):
            def __init__(self, c1, c2, k=1):
                super().__init__()
                self.conv = nn.Conv2d(c1, c2, k, padding=k // 2, bias=False)
                self.bn = nn.BatchNorm2d(c2)
                self.act = nn.SiLU()

            def forward(self, x):
                return self.act(self.bn(self.conv(x)))


        class Wrapped(nn.Module):
            def __init__(self, c1, c2):
                super().__init__()
                self.inner = Conv(c1, c2 * 2)

            def forward(self, x):
                return self.inner(x)
    """
    text = model(f"self.layer = {constructor}", "return self.layer(x)", prelude)
    assert channels_of(text, "layer") == expected


def test_before_uses_the_input_channels():
    text = model("self.conv = nn.Conv2d(c + 1, d, 3, padding=1)", "return self.conv(x)")
    assert (
        "self.gate = Gate(c + 1, reduction=2)\n        self.conv"
        in add(text, GATE, BLOCKS, name="gate", before="conv").source
    )


def test_block_kwargs_and_channels_override():
    text = model("self.bn = nn.BatchNorm2d(d)", "return self.bn(x)")
    block = Block("Gate", "insert", ("channels", "reduction"), {"reduction": "8", "mode": "'avg'"})
    wired = add(text, block, BLOCKS, name="se", after="bn", channels=" d // 2 ")
    assert "self.se = Gate(d // 2, reduction=8, mode='avg')" in wired.source
    assert "channels: d // 2 (from --channels)" in said(wired)


def test_layer_role_without_channels_takes_no_channel_argument():
    text = model("self.act = nn.ReLU()", "return self.act(x)")
    mish = Block("Mish", "layer", (), {})
    assert "self.mish = Mish()" in add(text, mish, Source(module="blocks.mish"), name="mish", after="act").source


def test_default_position_messages():
    result = add(corpus_source("resnet.py"), GATE, BLOCKS, name="gate", class_name="BasicBlock")
    assert said(result)[0] == (
        "placed after bn2 in BasicBlock (default for insert blocks); explicit: --class BasicBlock --after bn2"
    )
    assert "channels: planes, read from bn2 = nn.BatchNorm2d(planes)" in result.messages
    assert "added `from blocks.gate import Gate`" in result.messages
    twice = add(corpus_source("yolo.py"), GATE, BLOCKS, name="gate", class_name="Bottleneck")
    assert "cv2 is called 2 times in Bottleneck; wrapped every call" in twice.messages


@pytest.mark.parametrize(
    ("forward", "anchor"),
    [
        ("out = self.bn2(self.conv2(self.bn1(self.conv1(x))))\nreturn out + x", "bn2"),
        (
            "out = self.relu(self.bn1(self.conv1(x)))\nif self.training:\n    out = self.drop(out)\nreturn self.relu(x + out)",
            "bn1",
        ),
        ("y = F.relu(self.bn1(self.conv1(x)))\nreturn y", "bn1"),
        ("return x + self.bn2(self.conv2(x)) * 0.5", "bn2"),
        ("x = self.conv1(x).contiguous()\nreturn self.relu(x)", "conv1"),
    ],
)
def test_default_insert_follows_the_main_branch(forward, anchor):
    init = """
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.1)
    """
    result = add(model(init, forward), GATE, BLOCKS, name="gate")
    assert f"--after {anchor}" in said(result)[0]


def test_default_in_a_loop_is_refused():
    init = "self.stem = nn.Conv2d(c, c, 1)\nself.blocks = nn.ModuleList([nn.Conv2d(c, c, 1)])"
    forward = "x = self.stem(x)\nfor block in self.blocks:\n    x = block(x)\nreturn x"
    with pytest.raises(Exception, match=r"x \(assigned inside a branch or loop\)"):
        add(model(init, forward), GATE, BLOCKS, name="gate")


@pytest.mark.parametrize(
    ("constructor", "expected", "note"),
    [
        ("nn.Conv2d(c, d, 3, 2, 1, bias=False)", "Conv3(c, d, kernel_size=3, stride=2)", "dropped bias=False"),
        (
            "nn.Conv2d(c, d, kernel_size=(3, 3), padding=(1, 1), dilation=1, groups=1)",
            "Conv3(c, d, kernel_size=(3, 3))",
            None,
        ),
        (
            "nn.Conv2d(c, d, 5, padding='same', padding_mode='zeros')",
            "Conv3(c, d, kernel_size=5)",
            "dropped padding='same'",
        ),
        ("nn.Conv2d(c, d, 1)", "Conv3(c, d, kernel_size=1)", None),
        ("nn.Conv2d(c, d, k, padding=k // 2)", "Conv3(c, d, kernel_size=k)", None),
        ("conv3x3(c, d, 2)", "Conv3(c, d, kernel_size=3, stride=2)", "dropped padding=1"),
    ],
)
def test_replace_maps_conv_arguments(constructor, expected, note):
    prelude = "def conv3x3(i, o, stride=1):\n    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)\n"
    text = model(f"k = 3\nself.conv = {constructor}", "return self.conv(x)", prelude)
    wired = add(text, CONV3, Source(module="blocks.conv3"), name="conv3", replace="conv")
    assert f"self.conv = {expected}\n" in wired.source
    if note:
        assert any(message.startswith(note) for message in wired.messages)


def test_replace_passes_dilation_and_bias_to_a_block_that_takes_them():
    block = Block("DConv", "replace", ("in_channels", "out_channels", "kernel_size", "stride", "dilation", "bias"), {})
    text = model("self.conv = nn.Conv2d(c, d, 3, padding=2, dilation=2, bias=False)", "return self.conv(x)")
    wired = add(text, block, Source(module="blocks.dconv"), name="dconv", replace="conv").source
    assert "self.conv = DConv(c, d, kernel_size=3, dilation=2, bias=False)" in wired


def test_replace_pooling_takes_stride_from_kernel_and_channels_from_option():
    text = model("self.pool = nn.MaxPool2d(2)", "return self.pool(x)")
    wired = add(text, POOL, Source(module="blocks.pool"), name="pool", replace="pool", channels="c")
    assert "self.pool = Pool(c, kernel_size=2, stride=2)" in wired.source


def test_replace_kwargs_from_set_win():
    block = Block("Conv3", "replace", CONV3.params, {"kernel_size": "5"})
    text = model("self.conv = nn.Conv2d(c, d, 3, padding=1)", "return self.conv(x)")
    wired = add(text, block, Source(module="blocks.conv3"), name="conv3", replace="conv")
    assert "self.conv = Conv3(c, d, kernel_size=5)" in wired.source
    assert "kernel_size=5 from --set replaces kernel_size=3" in said(wired)


def test_replace_of_a_shape_preserving_block_uses_equal_in_and_out():
    block = Block("SKConv", "replace", ("channels", "kernel_size", "stride"), {})
    text = model("self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)", "return self.conv(x)")
    wired = add(text, block, Source(module="b.sk"), name="sk")
    assert "self.conv = SKConv(c, kernel_size=3, stride=2)" in wired.source
    assert said(wired)[0] == "replaces conv in M (default for replace blocks); explicit: --class M --replace conv"
    changing = text.replace("nn.Conv2d(c, c, 3", "nn.Conv2d(c, d, 3")
    with pytest.raises(Exception, match="SKConv keeps the channel count but conv maps c to d channels"):
        add(changing, block, Source(module="b.sk"), name="sk")
