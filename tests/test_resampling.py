"""Blocks that change the map size: `add --replace` matches the factor, an insert needs the model run (issue 18)."""

import importlib.util
import shutil
import sys

import pytest
import torch

from plugforge.catalog.spec import load_catalog
from tests.conftest import EXAMPLE, invoke

DECODER = '''import torch
from torch import nn


class Decoder(nn.Module):
    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels // 2, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2.0, mode="bilinear")
        self.deconv = nn.ConvTranspose2d(channels // 2, channels // 2, 2, 2, 0)
        self.fractional = nn.Upsample(scale_factor=1.5)
        self.sized = nn.Upsample(size=(64, 64))
        self.head = nn.Conv2d(channels // 2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.deconv(self.up(self.conv(x))))


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.triple = nn.Conv2d(32, 32, 3, stride=3, padding=1)
        self.flat = nn.Conv2d(32, 32, 3, padding=1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.flat(self.triple(self.down(self.pool(self.stem(x))))))
'''


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(DECODER, encoding="utf-8")
    return path


def load(path, name):
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"model_{id(path)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, name)()
    finally:
        sys.path.pop(0)
        for key in [k for k in sys.modules if k == "blocks" or k.startswith("blocks.")]:
            del sys.modules[key]


@pytest.mark.parametrize("block", ["carafe", "dysample", "eucb"])
@pytest.mark.parametrize("anchor", ["up", "deconv"])
def test_an_upsampler_replaces_an_upsample_or_a_transposed_conv(model, block, anchor):
    result = invoke("add", block, "--into", model, "--class", "Decoder", "--replace", anchor)
    assert result.exit_code == 0, result.output
    assert "scale=2" in model.read_text() and "channels // 2" in result.output
    assert "dropped" in result.output  # the layer's own mode or kernel: the block upsamples its own way
    out = load(model, "Decoder")(torch.randn(2, 32, 5, 7))
    assert out.shape == (2, 1, 20, 28)


@pytest.mark.parametrize("block, anchor, constructor", [
    ("hwd", "pool", "HWD(16, 16)"),
    ("spd_conv", "flat", "SPDConv(32, 32, kernel_size=3, stride=1)"),  # stride 1: a plain conv, as the layer
    ("spd_conv", "down", "SPDConv(16, 32, kernel_size=3, stride=2)"),
    ("spd_conv", "triple", "SPDConv(32, 32, kernel_size=3, stride=3)"),
])  # fmt: skip
def test_a_downsampler_replaces_a_strided_conv_or_a_pool(model, block, anchor, constructor):
    result = invoke("add", block, "--into", model, "--class", "Encoder", "--replace", anchor)
    assert result.exit_code == 0, result.output
    assert f"self.{anchor} = {constructor}" in model.read_text()
    assert load(model, "Encoder")(torch.randn(2, 3, 24, 24)).shape == (2, 10)


@pytest.mark.parametrize("block, anchor, message", [
    ("carafe", "down", "CARAFE upsamples the map, but down is an nn.Conv2d; --replace an nn.Upsample"),
    ("hwd", "up", "HWD does not upsample, but up (nn.Upsample) upsamples the map; choose an upsampler"),
    ("hwd", "flat", "HWD downsamples the map by 2, but flat by stride=1"),
    ("hwd", "triple", "HWD downsamples the map by 2, but triple by stride=3"),
    ("dysample", "fractional", "fractional resamples by 1.5, but DySample takes a whole factor"),
    ("eucb", "sized", "sized resizes to a fixed size, not by a factor"),
    ("pconv", "deconv", "PartialConv does not upsample, but deconv (nn.ConvTranspose2d) upsamples the map"),
])  # fmt: skip
def test_a_layer_that_resamples_otherwise_is_refused(model, block, anchor, message):
    cls = "Encoder" if anchor in ("down", "flat", "triple") else "Decoder"
    before = model.read_bytes()
    result = invoke("add", block, "--into", model, "--class", cls, "--replace", anchor)
    assert result.exit_code == 1 and message in result.output, result.output
    assert model.read_bytes() == before and not (model.parent / "blocks").exists()


def test_a_fixed_factor_the_source_cannot_tell_is_checked_at_run_time(tmp_path):
    model = tmp_path / "model.py"
    shutil.copy(EXAMPLE, model)
    result = invoke("add", "hwd", "--into", model, "--replace", "conv2")  # conv2 has stride=stride
    assert result.exit_code == 1 and "HWD needs stride == 2" in result.output and "--build" in result.output
    result = invoke("add", "hwd", "--into", model, "--replace", "conv2", "--build", "Bottleneck(256, 64)")
    assert result.exit_code == 1
    assert "in Bottleneck(256, 64) a Bottleneck.conv2 has stride=(1, 1)" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes()
    result = invoke("add", "hwd", "--into", model, "--replace", "conv2", "--build", "Bottleneck(256, 64, stride=2)")
    assert result.exit_code == 0, result.output
    assert "checked at run time: stride == 2 holds for Bottleneck.conv2" in result.output
    assert "self.conv2 = HWD(planes, planes)" in model.read_text()


def test_an_insert_that_changes_the_size_needs_the_model_run(model):
    before = model.read_bytes()
    result = invoke("add", "hwd", "--into", model, "--class", "Encoder", "--after", "stem")
    assert result.exit_code == 1 and "divides H and W by 2, so every map after it changes size" in result.output
    assert "--check EXPR --input SHAPE" in result.output and model.read_bytes() == before


def test_an_insert_the_model_cannot_take_is_put_back(tmp_path):
    model = tmp_path / "model.py"
    shutil.copy(EXAMPLE, model)
    result = invoke("add", "carafe", "--into", model, "--after", "conv2", "--set", "compressed_channels=8",
                    "--build", "Bottleneck(256, 64)", "--input", "2,256,8,8")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "every file was put back" in result.output and "must match the size of tensor b (8)" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes() and not (tmp_path / "blocks").exists()


@pytest.mark.parametrize("option", ["--build", "--check"])
def test_an_insert_the_model_takes_is_wired(model, option):
    result = invoke("add", "spd_conv", "--into", model, "--class", "Encoder", "--after", "stem",
                    option, "Encoder()", "--input", "2,3,16,16")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "self.spd_conv = SPDConv(16, out_channels=16)" in model.read_text()
    assert load(model, "Encoder")(torch.randn(1, 3, 20, 20)).shape == (1, 10)


def test_entries_declare_the_factor_in_their_output_contract():
    specs = {spec.id: spec for spec in load_catalog().specs}
    assert specs["hwd"].resample == ("down", "2") and specs["spd_conv"].resample == ("down", "stride")
    assert specs["carafe"].resample == ("up", "scale") and specs["se"].resample == ()
    assert specs["eucb"].output.shape() == "(B, C, H * scale, W * scale)"
    result = invoke("info", "dysample")
    assert "(B, channels, H * scale, W * scale)" in result.output
