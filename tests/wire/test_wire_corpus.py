"""Every corpus model: wire a stand-in block, import the result, run it; idempotency; exact undo."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from wire_helpers import CORPUS, STAND_INS, corpus_source, import_module, inline_source, vendor, write

from plugforge.wire import Source, add, remove


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    build: Callable  # imported module -> nn.Module
    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    options: dict = field(default_factory=dict)
    block: str = "gate"
    expect: tuple[str, ...] = ()  # substrings of the wired source
    undo: str = "gate"  # the name remove() takes

    @property
    def module(self) -> str:
        return self.file.removesuffix(".py").replace("/", ".")


def _strided_bottleneck(module):
    downsample = module.nn.Sequential(module.conv1x1(16, 16, 2), module.nn.BatchNorm2d(16))
    return module.Bottleneck(16, 4, stride=2, downsample=downsample)


CASES = [
    Case(
        "basic-default",
        "resnet.py",
        lambda m: m.BasicBlock(8, 8),
        ((1, 8, 6, 6),),
        (1, 8, 6, 6),
        {"class_name": "BasicBlock"},
        expect=("self.gate = Gate(planes, reduction=2)", "out = self.gate(self.bn2(out))"),
    ),
    Case(
        "basic-after-bn1",
        "resnet.py",
        lambda m: m.BasicBlock(8, 8),
        ((1, 8, 6, 6),),
        (1, 8, 6, 6),
        {"class_name": "BasicBlock", "after": "bn1"},
        expect=("out = self.gate(self.bn1(out))",),
    ),
    Case(
        "bottleneck-default",
        "resnet.py",
        lambda m: m.Bottleneck(16, 4),
        ((1, 16, 5, 5),),
        (1, 16, 5, 5),
        {"class_name": "Bottleneck"},
        expect=("Gate(planes * self.expansion, reduction=2)", "self.gate(self.bn3(out))"),
    ),
    Case(
        "bottleneck-before-conv2",
        "resnet.py",
        lambda m: m.Bottleneck(16, 4),
        ((1, 16, 5, 5),),
        (1, 16, 5, 5),
        {"class_name": "Bottleneck", "before": "conv2"},
        expect=("Gate(width, reduction=2)", "self.conv2(self.gate(out))"),
    ),
    Case(
        "bottleneck-replace-default",
        "resnet.py",
        _strided_bottleneck,
        ((1, 16, 6, 6),),
        (1, 16, 3, 3),
        {"class_name": "Bottleneck"},
        block="conv3",
        undo="conv2",
        expect=("self.conv2 = Conv3(width, width, kernel_size=3, stride=stride)",),
    ),
    Case(
        "resnet-after-bn1",
        "resnet.py",
        lambda m: m.ResNet(m.BasicBlock, [1, 1]),
        ((1, 3, 32, 32),),
        (1, 10),
        {"class_name": "ResNet", "after": "bn1"},
        expect=("Gate(self.inplanes, reduction=2)",),
    ),
    Case(
        "resnet-replace-maxpool",
        "resnet.py",
        lambda m: m.ResNet(m.BasicBlock, [1, 1]),
        ((1, 3, 32, 32),),
        (1, 10),
        {"class_name": "ResNet", "replace": "maxpool", "channels": "self.inplanes"},
        block="pool",
        undo="maxpool",
        expect=("self.maxpool = Pool(self.inplanes, kernel_size=3, stride=2)",),
    ),
    Case(
        "mobilenet-after-conv",
        "mobilenetv2.py",
        lambda m: m.InvertedResidual(8, 8, 1, 2),
        ((1, 8, 5, 5),),
        (1, 8, 5, 5),
        {"after": "conv", "channels": "oup"},
        expect=("return x + self.gate(self.conv(x))",),
    ),
    Case(
        "vgg-after-pool",
        "vgg.py",
        lambda m: m.VGG(),
        ((1, 3, 16, 16),),
        (1, 10),
        {"after": "features.3"},
        undo="features.4",
        expect=("nn.MaxPool2d(kernel_size=2, stride=2),  # 1/2\n            Gate(16, reduction=2),",),
    ),
    Case(
        "vgg-before-conv",
        "vgg.py",
        lambda m: m.VGG(),
        ((1, 3, 16, 16),),
        (1, 10),
        {"before": "features.4"},
        undo="features.4",
        expect=("Gate(16, reduction=2),\n            nn.Conv2d(16, 32",),
    ),
    Case(
        "vgg-nested",
        "vgg.py",
        lambda m: m.VGG(),
        ((1, 3, 16, 16),),
        (1, 10),
        {"after": "features.6.1"},
        undo="features.6.2",
        expect=("nn.BatchNorm2d(32), Gate(32, reduction=2), nn.ReLU",),
    ),
    Case(
        "vgg-after-last",
        "vgg.py",
        lambda m: m.VGG(),
        ((1, 3, 16, 16),),
        (1, 10),
        {"after": "features.7"},
        undo="features.8",
        expect=("nn.MaxPool2d(kernel_size=2, stride=2),\n            Gate(32, reduction=2)\n        )",),
    ),
    Case(
        "doubleconv-default",
        "unet.py",
        lambda m: m.DoubleConv(3, 8),
        ((1, 3, 8, 8),),
        (1, 8, 8, 8),
        {"class_name": "DoubleConv"},
        undo="double_conv.5",
        expect=("nn.BatchNorm2d(out_channels),\n            Gate(out_channels, reduction=2),\n            nn.ReLU",),
    ),
    Case(
        "down-default",
        "unet.py",
        lambda m: m.Down(4, 8),
        ((1, 4, 8, 8),),
        (1, 8, 4, 4),
        {"class_name": "Down"},
        undo="maxpool_conv.2",
        expect=(
            "nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels), Gate(out_channels, reduction=2))",
        ),
    ),
    Case(
        "up-after-transpose",
        "unet.py",
        lambda m: m.Up(16, 8),
        ((1, 16, 4, 4), (1, 8, 8, 8)),
        (1, 8, 8, 8),
        {"class_name": "Up", "after": "up"},
        expect=("Gate(in_channels // 2, reduction=2)", "x1 = self.gate(self.up(x1))"),
    ),
    Case(
        "unet-after-inc",
        "unet.py",
        lambda m: m.UNet(3, 2),
        ((1, 3, 8, 8),),
        (1, 2, 8, 8),
        {"class_name": "UNet", "after": "inc"},
        expect=("Gate(width, reduction=2)",),
    ),
    Case(
        "yolo-conv-default",
        "yolo.py",
        lambda m: m.Conv(4, 8, 3),
        ((1, 4, 6, 6),),
        (1, 8, 6, 6),
        {"class_name": "Conv"},
        expect=("return self.act(self.gate(self.bn(self.conv(x))))",),
    ),
    Case(
        "yolo-bottleneck-default",
        "yolo.py",
        lambda m: m.Bottleneck(8, 8),
        ((1, 8, 6, 6),),
        (1, 8, 6, 6),
        {"class_name": "Bottleneck"},
        expect=("return x + self.gate(self.cv2(self.cv1(x))) if self.add else self.gate(self.cv2(self.cv1(x)))",),
    ),
    Case(
        "yolo-c3-default",
        "yolo.py",
        lambda m: m.C3(8, 16),
        ((1, 8, 6, 6),),
        (1, 16, 6, 6),
        {"class_name": "C3"},
        expect=("Gate(c2, reduction=2)", "return self.gate(self.cv3(torch.cat("),
    ),
    Case(
        "yolo-c3-before-cv3",
        "yolo.py",
        lambda m: m.C3(8, 16),
        ((1, 8, 6, 6),),
        (1, 16, 6, 6),
        {"class_name": "C3", "before": "cv3"},
        expect=("Gate(2 * c_, reduction=2)",),
    ),
    Case(
        "convnext-default",
        "convnext.py",
        lambda m: m.ConvNeXtBlock(8),
        ((1, 8, 7, 5),),
        (1, 8, 7, 5),
        expect=("x = self.gate(self.dwconv(x))",),
    ),
    Case(
        "convnext-token-after-pwconv2",
        "convnext.py",
        lambda m: m.ConvNeXtBlock(8),
        ((1, 8, 7, 5),),
        (1, 8, 7, 5),
        {"after": "pwconv2"},
        block="token",
        expect=("self.gate = TokenScale(dim)", "x = self.gate(self.pwconv2(x))"),
    ),
    Case(
        "package-default",
        "pkg/model.py",
        lambda m: m.ResidualBlock(8, 8),
        ((1, 8, 6, 6),),
        (1, 8, 6, 6),
        expect=("out = self.gate(self.bn2(self.conv2(out)))",),
    ),
    Case(
        "tabs-default",
        "tabs_annotated.py",
        lambda m: m.TabBlock(8),
        ((1, 8, 5, 5),),
        (1, 8, 5, 5),
        expect=(
            "\t\tself.gate = Gate(channels, reduction=2)\n",
            "y = self.gate(self.norm_out(self.conv_out(y)))  # main branch",
        ),
    ),
    Case(
        "tabs-replace",
        "tabs_annotated.py",
        lambda m: m.TabBlock(8),
        ((1, 8, 5, 5),),
        (1, 8, 5, 5),
        {"replace": "conv_out"},
        block="conv3",
        undo="conv_out",
        expect=("\t\tself.conv_out: Conv3 = Conv3(hidden, channels, kernel_size=3)\n",),
    ),
    Case(
        "crlf-bom-default",
        "crlf_bom.py",
        lambda m: m.WinBlock(4, 8),
        ((1, 4, 6, 6),),
        (1, 8, 6, 6),
        expect=("        self.gate = Gate(c_out, reduction=2)\r\n",),
    ),
    Case(
        "crlf-bom-replace",
        "crlf_bom.py",
        lambda m: m.WinBlock(4, 8),
        ((1, 4, 6, 6),),
        (1, 8, 6, 6),
        block="conv3",
        undo="conv",
        expect=("self.conv = Conv3(c_in, c_out, kernel_size=3, stride=1)  # 3x3\r\n",),
    ),
]
MODES = ["import", "inline"]


def wire(case: Case, mode: str, root: Path):
    """Add the case's block to its model; in import mode the block file is written under ``root``."""
    block, _ = STAND_INS[case.block]
    return add(corpus_source(case.file), block, origin(case, mode, root), name="gate", **case.options)


def origin(case: Case, mode: str, root: Path) -> Source:
    if mode == "inline":
        return inline_source(case.block)
    if "/" in case.file:  # a package: the model imports its siblings, and blocks relatively
        for sibling in (CORPUS / "pkg").glob("*.py"):
            write(root / "pkg" / sibling.name, corpus_source(f"pkg/{sibling.name}"))
    return vendor(root / case.file, case.block)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_wired_model_runs(case: Case, mode: str, tmp_path: Path, isolated_imports):
    torch = isolated_imports
    if "/" in case.file:  # the model imports its package siblings
        for sibling in (CORPUS / "pkg").glob("*.py"):
            write(tmp_path / "pkg" / sibling.name, corpus_source(f"pkg/{sibling.name}"))
    result = wire(case, mode, tmp_path)
    for expected in case.expect:
        assert expected in result.source
    write(tmp_path / case.file, result.source)

    module = import_module(tmp_path, case.module)
    model = case.build(module).eval()
    calls = _count_block_calls(model, STAND_INS[case.block][0].class_name)
    with torch.no_grad():
        output = model(*(torch.randn(shape) for shape in case.inputs))
    assert tuple(output.shape) == case.output
    assert calls() > 0, "the wired block is constructed but never called"


def _count_block_calls(model, class_name: str):
    count = [0]
    for layer in model.modules():
        if type(layer).__name__ == class_name:
            layer.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    return lambda: count[0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_second_add_changes_nothing(case: Case, mode: str, tmp_path: Path):
    first = wire(case, mode, tmp_path)
    block, _ = STAND_INS[case.block]
    second = add(first.source, block, origin(case, mode, tmp_path), name="gate", **case.options)
    assert second.source == first.source
    assert second.messages == ["already wired; nothing to do"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_remove_restores_the_original_bytes(case: Case, mode: str, tmp_path: Path):
    original = corpus_source(case.file)
    source = origin(case, mode, tmp_path)
    block, _ = STAND_INS[case.block]
    wired = add(original, block, source, name="gate", **case.options)
    assert wired.source != original
    undone = remove(wired.source, case.undo, case.options.get("class_name"))
    assert undone.source == original
    expected = [] if source.module is None else ["." * source.level + source.module]
    assert undone.removed_origins == expected
