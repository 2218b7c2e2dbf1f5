"""Every refusal names its fix; no refusal leaves a half-written result behind."""

from __future__ import annotations

import textwrap

import pytest
from wire_helpers import CONV3, GATE, GATE_CODE, POOL, corpus_source, inline_source

from plugforge import wiring
from plugforge.wire import Block, Source, WireError, add, anchors, remove

BLOCKS = Source(module="blocks.gate")


def source(text: str) -> str:
    return textwrap.dedent(text).lstrip()


SMALL = source("""
    import torch
    from torch import nn
    from torch.utils.checkpoint import checkpoint

    from .attention import Attention


    class Net(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.stem = nn.Conv2d(3, c, 3, padding=1)
            self.bn = nn.BatchNorm2d(c)
            self.layers = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1) for _ in range(2)])
            self.body = nn.Conv2d(c, c, 3, padding=1)
            self.attn = Attention(c)
            self.empty = nn.Sequential()
            self.empty.add_module("conv", nn.Conv2d(c, c, 1))
            self.head = nn.Conv2d(c, c, 1)
            if c > 8:
                self.norm = nn.BatchNorm2d(c)
            else:
                self.norm = nn.Identity()

        def forward(self, x):
            x = self.bn(self.stem(x))
            for layer in self.layers:
                x = layer(x)
            x = checkpoint(self.body, x)
            x = self.attn(x)
            x = self.empty(x)
            return self.norm(self.head(x))
    """)


def wire(text=SMALL, block=GATE, origin=BLOCKS, **options):
    options.setdefault("name", "gate")
    return add(text, block, origin, **options)


def error_of(call, *args, **kwargs) -> str:
    """The refusal as the user reads it: the wire package's errors carry data, plugforge.wiring words them."""
    with pytest.raises(WireError) as raised:
        call(*args, **kwargs)
    return wiring.worded(raised.value)


def test_syntax_error_gives_line_and_column():
    message = error_of(wire, "import torch\n\n\nclass A:\n    def f(self)\n        pass\n")
    assert "syntax error at line 5, column 16: expected ':'" in message


def test_several_classes_need_class_with_ready_options():
    message = error_of(wire, corpus_source("resnet.py"))
    assert "--class BasicBlock, --class Bottleneck, --class ResNet" in message


def test_unknown_class_lists_the_classes():
    message = error_of(wire, corpus_source("resnet.py"), class_name="Resnet")
    assert "no nn.Module class 'Resnet'" in message and "--class ResNet" in message


def test_file_without_module_classes():
    assert "no nn.Module subclass" in error_of(wire, "import torch\n\nx = 1\n")


def test_unknown_anchor_lists_anchors_with_constructor_channels_and_use():
    message = error_of(wire, corpus_source("resnet.py"), class_name="BasicBlock", after="bn9")
    assert "BasicBlock has no attribute 'bn9'" in message
    assert "  bn2: nn.BatchNorm2d(planes)  [channels planes; called 1x]" in message


def test_iterated_anchor_suggests_called_ones():
    message = error_of(wire, after="layers")
    assert "layers is iterated in Net, never called directly" in message
    assert "--after stem" in message and "--after head" in message


def test_anchor_passed_to_a_helper_is_refused():
    assert "body is passed to checkpoint() in Net" in error_of(wire, after="body")


def test_anchor_assigned_in_both_arms_with_different_widths_is_refused():
    assert "channels: c, read from norm = nn.BatchNorm2d(c) (nn.Identity() in another branch keeps the width)" in (
        wire(after="norm").messages
    )
    text = SMALL.replace("self.norm = nn.Identity()", "self.norm = nn.Conv2d(c, 2 * c, 1)")
    message = error_of(wire, text, after="norm")
    assert "self.norm is built with a different width in each arm of an if (c, 2 * c)" in message
    assert "no single channel expression fits" in message and "--channels" not in message


def test_anchor_assigned_twice_is_refused():
    text = SMALL.replace("else:\n            self.norm = nn.Identity()", "self.norm = nn.Identity()")
    assert "self.norm is assigned 2 times in Net.__init__" in error_of(wire, text, after="norm")


def test_uninferable_channels_ask_for_channels_and_show_the_constructor():
    message = error_of(wire, after="attn")
    assert "cannot infer the channels after attn (attn = Attention(c)); pass --channels EXPR" in message
    assert "self.gate = Gate(c, reduction=2)" in wire(after="attn", channels="c").source


def test_channels_must_be_one_expression():
    assert "--channels must be one Python expression" in error_of(wire, after="bn", channels="c c")


def test_name_colliding_with_another_attribute():
    message = error_of(wire, after="bn", name="head")
    assert "Net already has self.head = nn.Conv2d(c, c, 1); choose another --name" in message
    assert "Net already defines forward" in error_of(wire, after="bn", name="forward")


def test_invalid_name():
    assert "--name must be a Python identifier" in error_of(wire, after="bn", name="se-1")


def test_same_name_wired_elsewhere_asks_for_remove_first():
    wired = wire(after="bn").source
    message = error_of(wire, wired, after="head")
    assert "Net.gate is already wired with other settings; run `plugforge remove gate` first" in message


def test_option_conflicts_and_roles():
    assert "only one of --after, --before and --replace" in error_of(wire, after="bn", before="head")
    assert "--replace needs a conv-like block; Gate is an insert block" in error_of(wire, replace="head")
    assert "Conv3 is conv-like (role replace): use --replace ATTR" in error_of(wire, block=CONV3, after="bn")
    fuse = Block("ASFF", "fuse", ("channels",), {})
    assert "fuses several inputs" in error_of(wire, block=fuse)
    assert "unknown role 'mix'" in error_of(wire, block=Block("X", "mix", (), {}))
    invalid = Block("Ga te", "insert", (), {"k-1": "2"})
    assert "invalid block 'Ga te' or parameter names ['k-1']; fix the catalog" in error_of(wire, block=invalid)


def test_bad_block_descriptions():
    assert "invalid block 'Gate-2'" in error_of(wire, block=Block("Gate-2", "insert", ("channels",), {}), after="bn")
    clash = Block("Gate", "insert", ("channels", "reduction"), {"channels": "8"})
    assert "--set channels conflicts with the channels plugforge passes" in error_of(wire, block=clash, after="bn")


def test_source_must_be_import_or_inline():
    assert "either a module to import or code to inline" in error_of(wire, origin=Source(), after="bn")
    both = Source(module="blocks.gate", inline_code=GATE_CODE)
    assert "not both or neither" in error_of(wire, origin=both, after="bn")
    assert "invalid block module 'blocks/gate'" in error_of(wire, origin=Source(module="blocks/gate"), after="bn")


def test_sequential_errors():
    mobilenet = corpus_source("mobilenetv2.py")
    assert "conv is built from a list or dict (nn.Sequential(*layers))" in error_of(wire, mobilenet, after="conv.1")
    vgg = corpus_source("vgg.py")
    assert "features has 8 elements: use an index from features.0 to features.7" in error_of(
        wire, vgg, after="features.8"
    )
    assert "features.0 is nn.Conv2d(3, 16, kernel_size=3, padding=1), not an nn.Sequential" in error_of(
        wire, vgg, after="features.0.1"
    )
    assert "empty is an empty nn.Sequential() filled elsewhere" in error_of(wire, after="empty.0")


def test_no_default_position_lists_anchors():
    message = error_of(wire, corpus_source("vgg.py"))
    assert "no default position in VGG: its main branch ends in self.classifier = nn.Sequential(" in message
    assert "features.6.1: nn.BatchNorm2d(32)  [channels 32; inside Sequential]" in message
    wired = wire(corpus_source("mobilenetv2.py"))  # a Sequential built from a list ends in its last norm
    assert "placed after conv in InvertedResidual" in wired.messages[0]
    assert "channels: oup, read from conv = nn.Sequential(*layers)" in wired.messages[2]


def test_no_default_replace():
    message = error_of(wire, corpus_source("yolo.py"), block=CONV3, class_name="Conv")
    assert "no default position in Conv: no k x k nn.Conv2d (k > 1) feeds its result" in message


def test_class_without_forward():
    text = "from torch import nn\n\n\nclass Holder(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    assert "Holder has no forward method" in error_of(wire, text)


@pytest.mark.parametrize(
    ("constructor", "expected"),
    [
        (
            "nn.Conv2d(c, c, 3, padding=2, dilation=2)",
            "Conv3 has no `dilation`; remove dilation=2 from conv or choose a block that supports it",
        ),
        ("nn.Conv2d(c, c, 3, padding=1, groups=c)", "Conv3 has no `groups`; remove groups=c from conv"),
        ("nn.Conv2d(c, c, 3)", "conv has no padding, so its output shrinks, but Conv3 keeps the size; add padding=1"),
        ("nn.Conv2d(c, c, 3, padding=1, padding_mode='reflect')", "Conv3 has no `padding_mode`"),
        ("nn.BatchNorm2d(c)", "--replace works on nn.Conv2d, nn.MaxPool2d and nn.AvgPool2d"),
        ("Attention(c)", "--replace works on nn.Conv2d"),
    ],
)
def test_replace_refuses_what_the_block_cannot_honour(constructor, expected):
    text = SMALL.replace("self.body = nn.Conv2d(c, c, 3, padding=1)", f"self.conv = {constructor}")
    assert expected in error_of(wire, text, block=CONV3, replace="conv")


def test_replace_of_yolo_conv_with_groups():
    message = error_of(wire, corpus_source("yolo.py"), block=CONV3, class_name="Conv", replace="conv")
    assert "padding" not in message  # autopad(k, p, d) is "same" padding
    assert "Conv3 has no `groups`; remove groups=g from conv" in message


def test_replace_of_a_pool_takes_the_width_that_feeds_it():
    result = wire(corpus_source("resnet.py"), block=POOL, class_name="ResNet", replace="maxpool")
    assert "self.maxpool = Pool(self.inplanes, kernel_size=3, stride=2)" in result.source
    assert "channels: self.inplanes, maxpool keeps the width of bn1, which feeds it in forward" in result.messages


def test_replace_of_a_pool_fed_by_nothing_known_needs_channels():
    text = SMALL.replace("self.body = nn.Conv2d(c, c, 3, padding=1)", "self.body = nn.MaxPool2d(3, 1, 1)")
    message = error_of(wire, text, block=POOL, replace="body")
    assert "cannot tell the `channels` of Pool from body; pass --channels EXPR" in message


def test_replace_inside_a_sequential_is_refused():
    message = error_of(wire, corpus_source("vgg.py"), block=CONV3, replace="features.0")
    assert "--replace takes an attribute of the class; features.0 is inside a Sequential" in message


def test_replace_of_a_line_with_dedented_continuation():
    text = SMALL.replace("self.head = nn.Conv2d(c, c, 1)", "self.head = nn.Conv2d(c, c, 3,\npadding=1)")
    assert "reformat it (e.g. with black)" in error_of(wire, text, block=CONV3, replace="head")


def test_import_of_a_name_the_file_already_defines():
    text = SMALL.replace("class Net(nn.Module):", "class Gate(nn.Module):\n    pass\n\n\nclass Net(nn.Module):")
    message = error_of(wire, text, class_name="Net", after="bn")
    assert "the file already has its own Gate (defined in the file)" in message and "rename yours" in message
    assert "--inline" not in message  # inlining would not bring the catalog's Gate either


def test_inline_of_a_class_the_file_already_defines_differently():
    # torchvision's resnet.py defines BasicBlock, the class name of the `residual` block
    text = SMALL.replace("class Net(nn.Module):", "class Gate(nn.Module):\n    pass\n\n\nclass Net(nn.Module):")
    message = error_of(wire, text, class_name="Net", after="bn", origin=inline_source("gate"))
    assert "the file already has its own Gate, not plugforge's inlined copy" in message and "rename your Gate" in message


def test_inline_code_errors():
    assert "the inline code does not define Gate" in error_of(wire, origin=Source(inline_code="x = 1\n"), after="bn")
    assert "does not parse" in error_of(wire, origin=Source(inline_code="class Gate(:\n"), after="bn")
    text = SMALL.replace("import torch\n", "import torch\nimport numpy as F\n")
    message = error_of(wire, text, origin=inline_source("gate"), after="bn")
    assert "needs `import torch.nn.functional as F` but the file already uses the name F" in message


def test_remove_errors():
    message = error_of(remove, corpus_source("resnet.py"), "gate")
    assert "nothing named 'gate' to remove; wired blocks found: none" in message
    wired = wire(after="bn").source
    assert "wired blocks found: gate (in Net)" in error_of(remove, wired, "se")
    hand_edited = wired.replace("self.gate(self.bn(self.stem(x)))", "self.gate(self.bn(self.stem(x)), 2)")
    assert "cannot unwrap self.gate(self.bn(self.stem(x)), 2)" in error_of(remove, hand_edited, "gate")
    used = wired.replace("return self.norm", "print(self.gate)\n        return self.norm")
    assert "self.gate is still used in Net (passed to print()) besides calls" in error_of(remove, used, "gate")


def test_remove_needs_class_when_several_have_the_name():
    text = corpus_source("resnet.py")
    message = error_of(remove, text, "bn2")
    assert "several classes have self.bn2; choose one: --class BasicBlock, --class Bottleneck" in message


def test_broken_inline_region_is_reported():
    wired = wire(after="bn", origin=inline_source("gate")).source
    broken = wired.replace("# <<< plugforge inline: Gate", "# end")
    assert "has no closing `# <<< plugforge inline: Gate` line" in error_of(remove, broken, "gate")


def test_anchors_reports_unknown_class():
    assert "--class Net" in error_of(anchors, SMALL, "Nett")


SAME_WIDTH = Block(
    "Conv3", "replace", ("in_channels", "out_channels", "kernel_size", "stride"), {},
    rules=(("out_channels == in_channels", "the rest passes through"), ("kernel_size >= 3", "")),
    settings={"kernel_size": "3", "stride": "1"},
)  # fmt: skip


@pytest.mark.parametrize(
    ("constructor", "expected"),
    [
        (
            "nn.Conv2d(16, 32, 3, padding=1)",
            "Conv3 needs out_channels == in_channels (the rest passes through), but conv gives in_channels=16, "
            "out_channels=32; choose a layer where it holds",
        ),
        (
            "nn.Conv2d(c, c * 2, 3, padding=1)",
            "gives in_channels=c, out_channels=c * 2: plugforge cannot tell whether it holds there",
        ),
        ("nn.Conv2d(c, c, 1)", "Conv3 needs kernel_size >= 3, but conv gives kernel_size=1"),
        ("nn.Conv2d(c, c, k, padding=k // 2)", "Conv3 needs kernel_size >= 3, and conv gives kernel_size=k: plugforge"),
        ("nn.Conv2d(c, c, (3, 1), padding='same')", "Conv3 takes kernel_size as an int or a square pair"),
    ],
)
def test_replace_refuses_arguments_that_break_a_rule_of_the_block(constructor, expected):
    text = SMALL.replace("self.body = nn.Conv2d(c, c, 3, padding=1)", f"self.conv = {constructor}")
    assert expected in error_of(wire, text, block=SAME_WIDTH, replace="conv")


@pytest.mark.parametrize(
    "constructor",
    ["nn.Conv2d(c, c, 3, padding=1)", "nn.Conv2d(16, 16, (5, 5), padding=2)", "nn.Conv2d(c, c, 3, stride=s, padding=1)"],
)
def test_replace_writes_arguments_that_keep_every_rule(constructor):
    text = SMALL.replace("self.body = nn.Conv2d(c, c, 3, padding=1)", f"self.conv = {constructor}")
    assert "self.conv = Conv3(" in wire(text, block=SAME_WIDTH, replace="conv").source


MIXED = Block(
    "MixConv", "replace", ("in_channels", "out_channels", "kernel_size"), {},
    rules=(("len(kernel_size) <= min(in_channels, out_channels)", "one group per kernel size"),
           ("len(kernel_size) >= 1", "")),
    settings={"kernel_size": "(3, 5, 7)"}, sequences=("kernel_size",),
)  # fmt: skip


def test_a_layers_int_for_a_sequence_parameter_is_its_one_item():
    text = SMALL.replace("self.body = nn.Conv2d(c, c, 3, padding=1)", "self.conv = nn.Conv2d(16, 16, 3, padding=1)")
    assert "self.conv = MixConv(16, 16, kernel_size=3)" in wire(text, block=MIXED, replace="conv").source
    wider = Block(**{**MIXED.__dict__, "rules": (("len(kernel_size) >= 2", "two kernel sizes at least"),)})
    message = error_of(wire, text, block=wider, replace="conv")
    assert "MixConv needs len(kernel_size) >= 2 (two kernel sizes at least), but conv gives kernel_size=3" in message
