"""`plugforge check`, `plugforge bench`, `add --check` and the measure API, as a user runs them.

Timed runs are cut short with $PLUGFORGE_MIN_RUN_TIME and inputs are tiny, so the
figures are exact where they can be (shapes, parameters, FLOPs, CPU memory) and
only checked for sense where they cannot (latency).
"""

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from plugforge.catalog.spec import Param, load_catalog  # noqa: E402
from plugforge.measure import checking  # noqa: E402
from plugforge.measure.figures import Figures, measure  # noqa: E402
from plugforge.shapes import parse_shape  # noqa: E402
from tests.conftest import EXAMPLE, invoke  # noqa: E402

BUILD = ["--build", "Bottleneck(256, 64)", "--input", "2,256,8,8"]
TINY = (
    "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n"
    "        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)\n\n"
    "    def forward(self, x):\n        return self.conv(x)\n"
)
TINY_FLOPS = 2 * 1 * 8 * 8 * 8 * 3 * 3 * 3  # 2 x (batch * out channels * H * W) x (in channels * k * k)


@pytest.fixture(autouse=True)
def short_runs(monkeypatch):
    monkeypatch.setenv("PLUGFORGE_MIN_RUN_TIME", "0.01")


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "tiny.py").write_text(TINY)
    return tmp_path / "tiny.py"


def snapshot(directory: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(directory)): p.read_bytes() if p.is_file() else None for p in directory.rglob("*")}


# -- measure ------------------------------------------------------------------------------


def test_measure_counts_conv_flops_parameters_and_output_memory_exactly():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    figures = measure(conv, (torch.randn(1, 3, 8, 8),), min_run_time=0.01)
    assert isinstance(figures, Figures)
    assert figures.output_shapes == ((1, 8, 8, 8),)
    assert figures.params == sum(p.numel() for p in conv.parameters()) == 216
    assert figures.flops == TINY_FLOPS
    assert figures.peak_bytes == 8 * 8 * 8 * 4  # the output is the only storage the pass creates
    assert 0 < figures.latency_s and 0 <= figures.latency_iqr_s


def test_measure_backward_and_bfloat16():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    backward = measure(conv, (torch.randn(1, 3, 8, 8),), backward=True, min_run_time=0.01)
    assert backward.flops == 3 * TINY_FLOPS  # forward, gradient of the input, gradient of the weight
    assert conv.training and backward.peak_bytes > 8 * 8 * 8 * 4
    half = measure(conv, (torch.randn(1, 3, 8, 8),), dtype="bfloat16", min_run_time=0.01)
    assert conv.weight.dtype == torch.bfloat16 and half.peak_bytes == 8 * 8 * 8 * 2


def test_cpu_peak_memory_counts_live_intermediates_once():
    class Chain(nn.Module):
        def forward(self, x):
            a = x * 2  # 4 KiB
            b = a + 1  # 4 KiB, while a is alive
            return b.view(-1)[:10]  # a view: no new storage; a is freed on return

    assert measure(Chain(), (torch.randn(1024),), min_run_time=0.01).peak_bytes == 2 * 4096


@pytest.mark.parametrize(
    "text, shape", [("2,64,56,56", (2, 64, 56, 56)), ("2x64x56x56", (2, 64, 56, 56)), ("(8,)", (8,))]
)
def test_parse_shape(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "2,a", "2,0,4", "2;64"])
def test_parse_shape_rejects_what_is_not_a_shape(text):
    with pytest.raises(ValueError, match="is not a shape; give positive sizes separated by commas or x"):
        parse_shape(text)


# -- check --------------------------------------------------------------------------------


def test_check_reports_the_example_model(model):
    result = invoke("check", model, *BUILD)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    threads = torch.get_num_threads()
    used = f"{threads} thread{'s' if threads > 1 else ''}"
    assert lines[0] == f"Bottleneck(256, 64) from {model}, input (2, 256, 8, 8), cpu, float32, forward, {used}"
    namespace = {}
    exec(EXAMPLE.read_text(), namespace)
    params = sum(p.numel() for p in namespace["Bottleneck"](256, 64).parameters())
    assert lines[1].split() == ["output", "(2,", "256,", "8,", "8)"]
    assert lines[2].split() == ["parameters", f"{params:,}"]
    assert lines[3].startswith("FLOPs") and lines[3].endswith("MFLOPs")
    assert re.search(r"\(median ± IQR of \d+ runs\)", lines[4]) and lines[5].startswith("peak memory")
    assert not [p for p in model.parent.iterdir() if p.name != "model.py"]  # no bytecode, no temporary files


def test_check_counts_the_flops_of_a_single_conv(tiny):
    forward = invoke("check", tiny, "--build", "Net()", "--input", "1,3,8,8")
    assert forward.exit_code == 0, forward.output
    assert "27.6 kFLOPs" in forward.output and "216" in forward.output and "2 KiB" in forward.output
    backward = invoke("check", tiny, "--build", "Net()", "--input", "1x3x8x8", "--backward")
    assert "forward+backward" in backward.output and "82.9 kFLOPs" in backward.output
    half = invoke("check", tiny, "--build", "Net()", "--input", "1,3,8,8", "--dtype", "bfloat16")
    assert "cpu, bfloat16, forward" in half.output and "1 KiB" in half.output


def test_measure_version_gives_the_figures(model):
    figures = checking.measure_version(
        checking.Version(model, "model.py"), "Bottleneck(256, 64)", ((2, 256, 8, 8),), checking.Settings()
    )
    assert figures.output_shapes == ((2, 256, 8, 8),) and figures.params == 70_400 and figures.latency_s > 0


def test_check_against_a_file_shows_before_after_and_ratios(model):
    assert invoke("add", "se", "--into", model).exit_code == 0
    result = invoke("check", model, *BUILD, "--against", EXAMPLE)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[4:]}
    assert result.output.splitlines()[1:3] == ["before: examples/model.py", f"after:  {model}"]  # relative to cwd
    assert result.output.splitlines()[3].split() == ["BEFORE", "AFTER", "RATIO"]
    assert rows["output"][-1] == "same"
    assert rows["parameters"] == ["parameters", "70,400", "78,864", "1.12x"]  # + SE: 2 * 256 * 16 + 16 + 256


def git(directory, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=directory, check=True,
                   capture_output=True)  # fmt: skip


def test_check_against_a_git_revision(model):
    git(model.parent, "init", "-q")
    git(model.parent, "add", "model.py")
    git(model.parent, "commit", "-qm", "original")
    assert invoke("add", "se", "--into", model).exit_code == 0
    before = snapshot(model.parent)
    result = invoke("check", model, *BUILD, "--against", "HEAD")
    assert result.exit_code == 0, result.output
    assert f"before: {model}@HEAD" in result.output
    assert "70,400" in result.output and "78,864" in result.output
    assert snapshot(model.parent) == before  # the temporary module is gone
    missing = invoke("check", model, *BUILD, "--against", "HEAD~3")
    assert missing.exit_code == 1
    assert "--against HEAD~3: no such file, and not a git revision of the model" in missing.output


def test_check_imports_a_package_model_with_a_vendored_blocks_package(tmp_path):
    shutil.copytree(Path(__file__).parent / "corpus" / "pkg", tmp_path / "pkg")
    model = tmp_path / "pkg" / "model.py"
    assert invoke("add", "eca", "--into", model, "--after", "bn2").exit_code == 0
    assert "from .blocks.eca import" in model.read_text()
    result = invoke("check", model, "--build", "ResidualBlock(16, 32, stride=2)", "--input", "2,16,8,8")
    assert result.exit_code == 0, result.output
    assert "(2, 32, 4, 4)" in result.output


# -- add --check --------------------------------------------------------------------------


def test_add_check_reports_before_and_after(model):
    result = invoke("add", "se", "--into", model, "--check", "Bottleneck(256, 64)", "--input", "2,256,8,8")
    assert result.exit_code == 0, result.output
    assert f"before: {model} before add\nafter:  {model}\n" in result.output
    assert "70,400" in result.output and "78,864" in result.output
    assert "self.se(" in model.read_text() and (model.parent / "blocks" / "se.py").is_file()


def test_add_check_failure_leaves_every_file_byte_identical(model):
    (model.parent / "blocks").mkdir()
    (model.parent / "blocks" / "__init__.py").write_bytes(b"# mine\r\n")
    before = snapshot(model.parent)
    # 100 channels where the map has 256: the block's first conv fails in forward
    args = ["--channels", "100", "--check", "Bottleneck(256, 64)", "--input", "2,256,12,12"]
    result = invoke("add", "se", "--into", model, *args)
    assert result.exit_code == 1
    assert "--check: the wired model fails, so every file was put back as it was." in result.output
    assert "forward failed: RuntimeError:" in result.output
    assert f"\n  at {model}:" in result.output and ": out = self.se(self.bn3(" in result.output
    assert "raised in" in result.output and "se.py:" in result.output
    assert snapshot(model.parent) == before


@pytest.mark.parametrize(
    "block, sets, size, message",
    [
        ("weighted_permute_mlp", [], 16, "weighted_permute_mlp needs an N x N map with N = segment_dim (with "
         "segment_dim=8: 8x8); the maps that reach it are 16x16: use --set segment_dim=16"),
        ("weighted_permute_mlp", [], 14, "the maps that reach it are 14x14, and no segment_dim fits them all"),
        ("aft", ["--set", "max_tokens=49"], 14, "aft needs H * W <= max_tokens when max_tokens is set (AFT-full) "
         "(with max_tokens=49: 1x1 to 7x7); the maps that reach it are 14x14: use --set max_tokens=196 or "
         "--set max_tokens=none"),
    ],
)  # fmt: skip
def test_add_check_refuses_a_map_size_the_block_cannot_take(model, block, sets, size, message):
    before = snapshot(model.parent)
    result = invoke("add", block, "--into", model, *sets, "--check", "Bottleneck(256, 64)", "--input", f"2,256,{size},{size}")
    assert result.exit_code == 1, result.output
    given = f"in Bottleneck(256, 64) at --input 2,256,{size},{size}, "
    assert f"Error: --check: every file was put back as it was: {given}" in result.output
    assert message in " ".join(result.output.split())
    assert snapshot(model.parent) == before


def test_add_build_with_an_input_size_refuses_a_map_size_the_block_cannot_take(model):
    before = snapshot(model.parent)
    result = invoke("add", "weighted_permute_mlp", "--into", model, "--build", "Bottleneck(256, 64)", "--input", "2,256,4,4")
    assert result.exit_code == 1, result.output
    assert "Error: --build: every file was put back as it was: in Bottleneck(256, 64) at --input 2,256,4,4, " in result.output
    assert "the maps that reach it are 4x4: use --set segment_dim=4" in " ".join(result.output.split())
    assert snapshot(model.parent) == before


def test_add_check_takes_a_map_size_that_fits(model):
    result = invoke("add", "weighted_permute_mlp", "--into", model, "--check", "Bottleneck(256, 64)", "--input", "2,256,8,8")
    assert result.exit_code == 0, result.output
    assert "self.weighted_permute_mlp(" in model.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "2,256,8,8"], "--input is the input shape for --check or --build; add one of them"),
        (["--check", "Bottleneck(256, 64)"], "--check needs the input shape: add --input SHAPE"),
        (["--check", "Bottleneck(256, 64)", "--input", "2,256,8,8", "--dry-run"], "cannot run with --dry-run"),
        (["--check", "Bottleneck(256, 64)", "--input", "2,,8"], "Invalid value for --input"),
        (
            ["--check", "Bottleneck(256, 64)", "--input", "2,256,8,8", "--into", "nb.ipynb"],
            "needs a .py file, not nb.ipynb",
        ),
    ],
)
def test_add_check_usage_errors_write_nothing(model, args, message):
    before = snapshot(model.parent)
    result = invoke("add", "se", "--into", model, *args)
    assert result.exit_code == 2 and message in result.output
    assert snapshot(model.parent) == before


# -- check errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--build", "Botleneck(256, 64)"], "--build: name 'Botleneck' is not defined in {model}, which defines "
         "Bottleneck (nn.Module), make(). Did you mean Bottleneck?"),  # fmt: skip
        (["--build", "Bottleneck(256, 64"], "is not a Python expression ('(' was never closed)"),
        (["--build", "Bottleneck"], "--build Bottleneck is the class; call it with its arguments"),
        (["--build", "make"], "--build make gave function, not an nn.Module; build the model, e.g. Bottleneck(...)"),
        (["--build", "Bottleneck(256)"], "building Bottleneck(256) failed: TypeError:"),
        (["--build", "Bottleneck(256, 64)", "--input", "2,64,8,8"],
         "forward failed: RuntimeError: Given groups=1, weight of size [64, 256, 1, 1], expected input[2, 64, 8, 8] "
         "to have 256 channels, but got 64 channels instead\n"
         "  at {model}:{line}: out = self.relu(self.bn1(self.conv1(x)))\n"
         "  is --input (2, 64, 8, 8) the input Bottleneck(256, 64) expects?"),  # fmt: skip
        (
            ["--build", "Bottleneck(256, 64)", "--input", "2,256,x"],
            "Invalid value for --input: '2,256,x' is not a shape",
        ),
        (["--build", "Bottleneck(256, 64)", "--against", "nope.py"], "--against nope.py: no such file, and not a git"),
    ],
)
def test_check_errors_name_the_fix(model, args, message):
    model.write_text(model.read_text() + "\n\ndef make():\n    return 1\n")
    result = invoke("check", model, *(args if "--input" in args else [*args, "--input", "2,256,8,8"]))
    assert result.exit_code in (1, 2)
    line = model.read_text().splitlines().index("        out = self.relu(self.bn1(self.conv1(x)))") + 1
    assert message.format(model=model, line=line) in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_check_on_cuda_without_cuda_is_a_clear_error(model):
    result = invoke("check", model, *BUILD, "--device", "cuda")
    assert result.exit_code == 1
    assert "--device cuda: no CUDA device is available" in result.output and "use --device cpu" in result.output


def test_check_reports_an_import_failure_with_its_line(tmp_path):
    (tmp_path / "broken.py").write_text("import torch\n\nraise RuntimeError('no weights here')\n")
    result = invoke("check", tmp_path / "broken.py", "--build", "Net()", "--input", "1,3")
    assert result.exit_code == 1
    assert f"importing {tmp_path / 'broken.py'} failed: RuntimeError: no weights here\n" in result.output
    assert "broken.py:3: raise RuntimeError('no weights here')" in result.output
    assert "does not exist" in invoke("check", tmp_path / "missing.py", "--build", "Net()", "--input", "1").output
    (tmp_path / "model.txt").write_text("x = 1\n")
    assert "is not a .py file" in invoke("check", tmp_path / "model.txt", "--build", "Net()", "--input", "1").output


def test_check_names_a_backward_failure(tiny):
    tiny.write_text(TINY.replace("return self.conv(x)", "return self.conv(x).detach()"))
    result = invoke("check", tiny, "--build", "Net()", "--input", "1,3,8,8", "--backward")
    assert result.exit_code == 1 and "--backward: no output requires grad" in result.output


# -- bench --------------------------------------------------------------------------------


def test_bench_one_block(catalog):
    result = invoke("bench", "se", "--input", "2,32,8,8", "--set", "reduction=4")
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[1:3]
    assert header.split() == ["BLOCK", "PARAMS", "FLOPS", "LATENCY", "PEAK", "MEMORY"]
    params = catalog.get("se").count_params({"channels": 32, "reduction": 4})
    assert row.split()[:2] == ["se", f"{params:,}"]


def test_bench_compares_blocks_against_the_first():
    result = invoke("bench", "se", "--compare", "eca,cbam", "--input", "2,16,8,8", "--backward")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("input (2, 16, 8, 8), cpu, float32, forward+backward, ")
    assert lines[1].split()[-2:] == ["VS", "SE"]
    rows = [line for line in lines[2:] if not line.startswith("warning:")]  # a busy machine is warned about
    assert [line.split()[0] for line in rows] == ["se", "eca", "cbam"]
    assert rows[0].endswith("1.00x") and all(line.endswith("x") for line in rows[1:])


def test_bench_builds_replace_blocks_with_in_and_out_channels():
    result = invoke("bench", "ghost", "--input", "1,16,8,8")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["fpn"], "fpn fuses several feature maps, so bench cannot feed it one input"),
        (["weight_init"], "weight_init is a utility function, not a layer"),
        (["temporal_conv"], "temporal_conv works on BCNT tensors; bench feeds (B, C, H, W) maps only"),
        (["se", "--input", "2,16,8"], "--input (2, 16, 8): bench feeds the blocks (B, C, H, W) maps; give four sizes"),
        (["se", "--set", "reductio=2"], "se has no parameter 'reductio'. Did you mean 'reduction'?"),
        (["se", "--set", "reduction=0"], "--set reduction=0: reduction must be int (>= 1)"),
        (["weighted_permute_mlp", "--input", "1,16,12,12"],
         "weighted_permute_mlp: forward failed: ValueError: WeightedPermuteMLP with segment_dim=8 needs 8x8 inputs"),
        (["se", "--compare", "nopeblock"], "No block named 'nopeblock'"),
    ],
)
def test_bench_errors_name_the_fix(args, message):
    result = invoke("bench", *args)
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_bench_asks_for_a_required_parameter_it_cannot_infer():
    spec = load_catalog().get("se")
    groups = Param("groups", "int", "Number of groups.", min=1)
    spec = dataclasses.replace(spec, params={**spec.params, "groups": groups})
    with pytest.raises(checking.CheckError, match=r"se needs groups \(Number of groups\), which has no default; "
                       r"give --set groups=VALUE"):  # fmt: skip
        checking.bench([spec], {}, (2, 16, 8, 8), checking.Settings())


def test_help_and_add_without_check_do_not_import_torch(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "model.py")
    probe = (
        "import sys\nfrom plugforge.cli import main\n"
        "for args in (['check', '--help'], ['bench', '--help'], ['add', 'se', '--into', sys.argv[1]]):\n"
        "    main(args, standalone_mode=False)\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, tmp_path / "model.py"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_check_runs_as_a_real_process(model):
    result = subprocess.run([sys.executable, "-m", "plugforge", "check", model, *BUILD], capture_output=True,
                            text=True, env={**__import__("os").environ, "PLUGFORGE_MIN_RUN_TIME": "0.01"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "parameters   70,400" in result.stdout


# -- threads, repetitions, noise ------------------------------------------------------------


def test_threads_are_set_for_the_measurement_reported_and_restored(tiny):
    before = torch.get_num_threads()
    result = invoke("check", tiny, "--build", "Net()", "--input", "1,3,8,8", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].endswith("cpu, float32, forward, 1 thread")
    assert torch.get_num_threads() == before
    bench = invoke("bench", "se", "--input", "1,16,8,8", "--threads", "1")
    assert bench.output.splitlines()[0] == "input (1, 16, 8, 8), cpu, float32, forward, 1 thread"
    assert invoke("bench", "se", "--threads", "0").exit_code == 2  # click: 0 is not in the range x>=1


def test_enough_repetitions_are_timed():
    figures = measure(nn.Identity(), (torch.randn(4),), min_run_time=0.0)
    assert figures.runs >= 10


def test_compared_modules_are_timed_alternately_and_equally_often():
    from plugforge.measure.figures import alternating, prepare

    slow, fast = nn.Conv2d(8, 8, 3), nn.Identity()
    inputs = (torch.randn(1, 8, 16, 16),)
    figures = [measure(m, inputs, min_run_time=0.01) for m in (slow, fast)]
    retimed = alternating([prepare(m, inputs) for m in (slow, fast)], figures, 0.02)
    assert retimed[0].runs == retimed[1].runs >= 10
    assert retimed[0].latency_s > retimed[1].latency_s and retimed[0].params == figures[0].params


@pytest.mark.parametrize("threads, fix", [(None, ", or with --threads 1"), (1, "")])
def test_a_wide_spread_is_a_warning(threads, fix):
    settings = checking.Settings(threads=threads)
    steady = Figures(((1,),), 0, 0, latency_s=1e-3, latency_iqr_s=1e-4, peak_bytes=0, runs=40)
    noisy = dataclasses.replace(steady, latency_iqr_s=54e-3)
    assert checking._noise_warning([steady], settings) == ""
    warning = checking._noise_warning([steady, noisy], settings)
    assert "the latency spread is wide (interquartile range 5400% of the median, over 40 runs" in warning
    assert warning.endswith("run on an idle machine" + fix)
    assert checking._latency(dataclasses.replace(steady, latency_s=825e-6, latency_iqr_s=76e-3)) == "825 µs ± 76 ms"
    assert checking._latency(noisy) == "1.00 ± 54 ms"
