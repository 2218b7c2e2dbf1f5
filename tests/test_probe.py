"""`add` measures the channels at run time where the source alone cannot tell them."""

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import invoke

pytest.importorskip("torch")

HELPERS = """
    from torch import nn

    REGISTRY = {"conv": nn.Conv2d}


    def make_stage(width, depth):
        layers = {}
        for index in range(depth):
            layers[f"conv{index}"] = REGISTRY["conv"](width, width, 3, padding=1)
        return nn.Sequential(*layers.values())
"""

MODEL = """
    from torch import nn

    from .helpers import make_stage


    class Net(nn.Module):
        def __init__(self, width{default}, depth=2):
            super().__init__()
            self.stem = nn.Conv2d(3, width, 3, padding=1)
            self.stage = make_stage(width, depth)

        def forward(self, x):
            return self.stage(self.stem(x))
"""


def package(tmp_path, default=""):
    """A package whose stage comes from a registry lookup no source reading can follow."""
    root = tmp_path / "net"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "helpers.py").write_text(textwrap.dedent(HELPERS).lstrip())
    (root / "model.py").write_text(textwrap.dedent(MODEL.format(default=default)).lstrip())
    return root / "model.py"


def run_net(tmp_path, expr):
    script = f"import torch\nfrom net.model import Net\nm = {expr}\nm(torch.randn(2, 3, 8, 8)).sum().backward()\n"
    script += "print(type(m.se).__name__)"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_class_built_with_its_defaults_is_measured(tmp_path):
    model = package(tmp_path, default="=16")
    result = invoke("add", "se", "--into", model, "--after", "stage")
    assert result.exit_code == 0, result.output
    assert "channels: width, measured at run time: in Net(), stage gives 16 channels and width = 16" in result.output
    assert "self.se = SqueezeExcitation(width)" in model.read_text()
    assert run_net(tmp_path, "Net(24)") == "SqueezeExcitation"


def test_build_and_input_measure_a_class_that_needs_arguments(tmp_path):
    model = package(tmp_path)
    before = model.read_bytes()
    refused = invoke("add", "se", "--into", model, "--after", "stage")
    assert refused.exit_code == 1
    assert "cannot infer the channels after stage (stage = make_stage(width, depth))" in refused.output
    assert "Net(width, ...) needs arguments to be built; measure its channels with --build 'Net(...)'" in refused.output
    assert model.read_bytes() == before and not (model.parent / "blocks").exists()
    wired = invoke("add", "se", "--into", model, "--after", "stage", "--build", "Net(12, 3)", "--input", "1,3,8,8")
    assert wired.exit_code == 0, wired.output
    assert "in Net(12, 3), stage gives 12 channels and width = 12" in wired.output
    assert run_net(tmp_path, "Net(20)") == "SqueezeExcitation"


def test_several_names_with_the_measured_width_are_listed_not_guessed(tmp_path):
    model = package(tmp_path)
    before = model.read_bytes()
    result = invoke("add", "se", "--into", model, "--after", "stage", "--build", "Net(2, 2)")
    assert result.exit_code == 1
    assert "several names in scope in Net.__init__ at self.stage equal its width, 2: width, depth" in result.output
    assert model.read_bytes() == before


def test_input_needs_check_or_build(tmp_path):
    result = invoke("add", "se", "--into", package(tmp_path), "--after", "stage", "--input", "1,3,8,8")
    assert result.exit_code == 2
    assert "--input is the input shape for --check or --build; add one of them" in result.output


def test_anchors_with_build_shows_the_measured_expression(tmp_path):
    model = package(tmp_path)
    plain = invoke("anchors", model)
    assert plain.exit_code == 0 and "stage   ?" in plain.output
    measured = invoke("anchors", model, "--build", "Net(12)")
    assert measured.exit_code == 0, measured.output
    assert "stage   width (measured)" in measured.output
    assert "stem    width " in measured.output  # read from the source, not measured
