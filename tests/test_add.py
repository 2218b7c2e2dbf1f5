"""`plugforge add / remove / anchors` through the CLI, with real catalog blocks.

Every entry that can be wired into a 2-D CNN is wired into the bundled example
(a ResNet bottleneck) exactly as a user would, and every wired model is then
imported and run in one fresh interpreter.
"""

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from plugforge import wiring
from plugforge.catalog.spec import Contract, load_catalog
from plugforge.cli import main
from plugforge.errors import PlugforgeError
from tests.conftest import EXAMPLE, invoke

CATALOG = load_catalog()
WIREABLE = [s for s in CATALOG.specs if s.role not in ("fuse", "utility") and s.input.layout in ("NCHW", "any")]

# Blocks whose method constrains the input: the arguments and size that satisfy it.
NEEDS = {
    # a block that constrains the map is wired only where add sees the maps: the model and its input
    "aft": (["--set", "max_tokens=196", "--build", "Bottleneck(256, 64)", "--input", "2,256,14,14"], 14),
    "dilate_attn": (["--set", "num_heads=8", "--set", "dilations=1,2"], 14),
    "halo_attn": ([], 16),
    "clo_attn": ([], 16),
    "weighted_permute_mlp": (["--build", "Bottleneck(256, 64)", "--input", "2,256,8,8"], 8),
    "mhsa": (["--build", "Bottleneck(256, 64)", "--input", "2,256,14,14"], 14),
}
REFUSED = {
    "spp": "turns C input channels into C * (len(kernels) + 1)",
    "pconv": "PartialConv has no `stride`; remove stride=stride from conv2",  # see test_shape_preserving_convs_*
    "scconv": "ScConv has no `stride`; remove stride=stride from conv2",
    "snake_conv": "DynamicSnakeConv has no `stride`; remove stride=stride from conv2",
    # BlazeBlock strides by 1 or 2; the source cannot tell `stride`, so --build must check it
    "blaze_block": "BlazeBlock needs stride <= 2, and conv2 gives stride=stride: plugforge cannot tell",
    # A large-kernel block: the example's conv2 is 3x3 (see test_drb_replaces_the_large_depthwise_conv_*)
    "drb": "DilatedReparamBlock needs kernel_size >= 5, but conv2 gives kernel_size=3",
    # upsamplers replace an nn.Upsample or nn.ConvTranspose2d, not a conv
    "carafe": "CARAFE upsamples the map, but conv2 is an nn.Conv2d; --replace an nn.Upsample or nn.ConvTranspose2d",
    "dysample": "DySample upsamples the map, but conv2 is an nn.Conv2d; --replace an nn.Upsample",
    "eucb": "EUCB upsamples the map, but conv2 is an nn.Conv2d; --replace an nn.Upsample",
    # HWD halves the map; the source cannot tell conv2's stride, so --build must check it
    "hwd": "HWD needs stride == 2 (it divides the map by 2, so the replaced layer must too), and conv2 gives stride=stride",
}


@pytest.fixture(scope="module")
def wired(tmp_path_factory):
    """Wire every block into its own copy of the example; return {id: (dir, size, cli result)}."""
    root = tmp_path_factory.mktemp("wired")
    cases = {}
    for spec in WIREABLE:
        directory = root / spec.id
        directory.mkdir()
        shutil.copy(EXAMPLE, directory / "model.py")
        extra, size = NEEDS.get(spec.id, ([], 14))
        position = ["--replace", "conv2"] if spec.role == "replace" and "--replace" not in extra else []
        cases[spec.id] = (directory, size, invoke("add", spec.id, "--into", directory / "model.py", *position, *extra))
    return cases


@pytest.fixture(scope="module")
def runs(wired):
    """Import every wired model and run it once, all in one fresh interpreter."""
    todo = {block: (str(d), size) for block, (d, size, result) in wired.items() if result.exit_code == 0}
    script = (
        "import importlib.util, json, sys, torch\n"
        f"todo = {todo!r}\nout = {{}}\n"
        "for block, (directory, size) in todo.items():\n"
        "    sys.path.insert(0, directory)\n"
        "    spec = importlib.util.spec_from_file_location('model_' + block, directory + '/model.py')\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    try:\n"
        "        spec.loader.exec_module(module)\n"
        "        net = module.Bottleneck(256, 64)\n"
        "        out[block] = list(net(torch.randn(2, 256, size, size)).shape)\n"
        "    except Exception as error:\n"
        "        out[block] = f'{type(error).__name__}: {error}'\n"
        "    sys.path.pop(0)\n"
        "    for name in [n for n in sys.modules if n == 'blocks' or n.startswith('blocks.')]:\n"
        "        del sys.modules[name]\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("spec", WIREABLE, ids=lambda s: s.id)
def test_every_wireable_block_wires_into_a_bottleneck_and_runs(spec, wired, runs):
    directory, size, result = wired[spec.id]
    if spec.id in REFUSED:
        assert result.exit_code == 1 and REFUSED[spec.id] in result.output
        assert (directory / "model.py").read_bytes() == EXAMPLE.read_bytes()
        return
    assert result.exit_code == 0, result.output
    assert (directory / "blocks" / f"{spec.module}.py").is_file()
    assert runs[spec.id] == [2, 256, size, size]


IDENTITY = [s for s in WIREABLE if s.identity and s.id not in REFUSED]

# Run the example before and after `add --identity-init` with the same (pretrained) weights.
SAME_OUTPUT = """
import importlib.util, json, sys, torch

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

torch.manual_seed(0)
original = load("original", sys.argv[1]).Bottleneck(256, 64)
with torch.no_grad():  # a "pretrained" network: no parameter or statistic at its initial value
    for tensor in [*original.parameters(), *original.buffers()]:
        if tensor.is_floating_point():
            tensor.copy_(torch.rand_like(tensor) + 0.5)
out = {}
for block, (directory, size) in json.loads(sys.argv[2]).items():
    sys.path.insert(0, directory)
    try:
        wired = load("model_" + block, directory + "/model.py").Bottleneck(256, 64)
        missing, unexpected = wired.load_state_dict(original.state_dict(), strict=False)
        assert not unexpected and all(key.startswith(block + ".") for key in missing), (missing, unexpected)
        x = torch.randn(2, 256, size, size)
        with torch.no_grad():
            out[block] = [torch.equal(wired.train(mode)(x), original.train(mode)(x)) for mode in (False, True)]
    except Exception as error:
        out[block] = f"{type(error).__name__}: {error}"
    sys.path.pop(0)
    for name in [n for n in sys.modules if n == "blocks" or n.startswith("blocks.")]:
        del sys.modules[name]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def identity_runs(tmp_path_factory):
    """Wire every block that can start as the identity with --identity-init; compare outputs."""
    root = tmp_path_factory.mktemp("identity")
    todo, results = {}, {}
    for spec in IDENTITY:
        directory = root / spec.id
        directory.mkdir()
        shutil.copy(EXAMPLE, directory / "model.py")
        extra, size = NEEDS.get(spec.id, ([], 14))
        position = ["--replace", "conv2"] if spec.role == "replace" else []
        result = invoke("add", spec.id, "--into", directory / "model.py", "--identity-init", *position, *extra)
        results[spec.id] = result
        todo[spec.id] = (str(directory), size)
    run = subprocess.run([sys.executable, "-c", SAME_OUTPUT, EXAMPLE, json.dumps(todo)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return results, json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize("spec", IDENTITY, ids=lambda s: s.id)
def test_identity_init_leaves_a_pretrained_model_bitwise_unchanged(spec, identity_runs):
    results, outputs = identity_runs
    assert results[spec.id].exit_code == 0, results[spec.id].output
    if spec.identity != "built-in":
        assert "identity_init=True" in results[spec.id].output
    assert outputs[spec.id] == [True, True]  # eval and train mode


@pytest.mark.parametrize("block, settings", [("weighted_permute_mlp", []), ("aft", ["--set", "max_tokens=49"])])
def test_a_block_that_constrains_the_map_needs_the_input_to_be_wired(model, block, settings):
    result = invoke("add", block, "--into", model, *settings)
    assert result.exit_code == 1 and "the source does not tell the map size where it goes" in result.output
    assert "--build EXPR --input SHAPE" in result.output and model.read_bytes() == EXAMPLE.read_bytes()
    assert not (model.parent / "blocks").exists()


def test_identity_init_is_refused_for_a_block_that_cannot_start_as_the_identity(model):
    result = invoke("add", "ghost", "--into", model, "--identity-init")
    assert result.exit_code == 1 and "ghost cannot start as the identity" in result.output
    assert "plugforge list --identity-init" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes()


@pytest.mark.parametrize("block", ["pconv", "scconv", "snake_conv"])
def test_shape_preserving_convs_replace_a_stride_free_conv(block, tmp_path):
    pytest.importorskip("torch")
    model = tmp_path / "model.py"
    model.write_text(
        "import torch\nfrom torch import nn\n\n\nclass Stage(nn.Module):\n"
        "    def __init__(self, channels: int) -> None:\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)\n"
        "        self.bn = nn.BatchNorm2d(channels)\n\n"
        "    def forward(self, x):\n        return x + self.bn(self.conv(x))\n"
    )
    result = invoke("add", block, "--into", model)
    assert result.exit_code == 0 and "explicit: --class Stage --replace conv" in result.output, result.output
    check = "import torch, model\nprint(tuple(model.Stage(16)(torch.randn(2, 16, 9, 7)).shape))"
    run = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True)
    assert run.stdout.strip() == "(2, 16, 9, 7)", run.stderr


def test_drb_replaces_the_large_depthwise_conv_of_a_convnext_block(tmp_path):
    pytest.importorskip("torch")
    model = tmp_path / "model.py"
    model.write_text(
        "import torch\nfrom torch import nn\n\n\nclass Block(nn.Module):\n"
        "    def __init__(self, dim: int) -> None:\n        super().__init__()\n"
        "        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)\n"
        "        self.norm = nn.BatchNorm2d(dim)\n\n"
        "    def forward(self, x):\n        return x + self.norm(self.dwconv(x))\n"
    )
    result = invoke("add", "drb", "--into", model, "--replace", "dwconv")
    assert result.exit_code == 0, result.output
    assert "self.dwconv = DilatedReparamBlock(dim, dim, kernel_size=7, groups=dim)" in model.read_text()
    check = (
        "import torch, model\nblock = model.Block(16)\nblock(torch.randn(2, 16, 9, 7)).sum().backward()\n"
        "block.eval()\nx = torch.randn(2, 16, 9, 7)\nwith torch.no_grad():\n    y = block(x)\n"
        "    block.dwconv.switch_to_deploy()\n    print(tuple(y.shape), (block(x) - y).abs().max().item() < 1e-5)"
    )
    run = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True)
    assert run.stdout.strip() == "(2, 16, 9, 7) True", run.stderr

def test_headline_command_places_the_block_where_the_paper_does(model):
    result = invoke("add", "sknet", "--into", model)
    assert result.exit_code == 0, result.output
    assert "placed after bn2 in Bottleneck (SKConv goes after the k x k conv); explicit: --class Bottleneck --after bn2" in result.output
    text = model.read_text()
    assert "from blocks.sk import SKConv" in text
    assert "self.sk = SKConv(planes)" in text  # the paper's SK unit works at the bottleneck's inner width
    assert "out = self.relu(self.sk(self.bn2(self.conv2(out))))" in text


def test_info_the_default_position_and_the_readme_agree_on_where_sk_goes(model):
    from plugforge.catalog.describe import info
    from plugforge.catalog.spec import find

    shown = info(find("sk"))
    assert "right after that conv and its norm (bn2)" in shown and "--after bn2" in shown
    assert "explicit: --class Bottleneck --after bn2" in invoke("add", "sknet", "--into", model).output
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    assert "placed after bn2 in Bottleneck (SKConv goes after the k x k conv)" in readme
    se = info(find("se"))  # SE: after the residual branch's last conv/norm, the default
    assert "--after bn3" in se and "--after bn2" not in se


def test_add_is_idempotent_and_remove_restores_the_exact_bytes(model):
    original = model.read_bytes()
    invoke("add", "se", "--into", model, "--after", "bn2", "--set", "reduction=8")
    once = model.read_bytes()
    assert b"self.se = SqueezeExcitation(planes, reduction=8)" in once
    again = invoke("add", "se", "--into", model, "--after", "bn2", "--set", "reduction=8")
    assert again.exit_code == 0 and "already wired; nothing to do" in again.output
    assert model.read_bytes() == once
    removed = invoke("remove", "se", "--from", model)
    assert removed.exit_code == 0, removed.output
    assert model.read_bytes() == original
    assert not (model.parent / "blocks").exists()


def test_remove_keeps_a_vendored_file_another_model_imports(model):
    other = model.parent / "other.py"
    shutil.copy(model, other)
    invoke("add", "se", "--into", model, "--after", "bn2")
    invoke("add", "se", "--into", other, "--after", "bn2")
    result = invoke("remove", "se", "--from", model)
    assert "kept blocks/se.py: still imported by" in result.output or "still imported by" in result.output
    assert (model.parent / "blocks" / "se.py").is_file()


def test_remove_resolves_imports_to_files_before_keeping_a_block(tmp_path, monkeypatch):
    """The README's order: `new sk -o blocks/` at the root, then add and remove sk in examples/."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    assert invoke("new", "sk", "-o", "blocks").exit_code == 0  # blocks/test_sk.py: `from sk import SKConv`
    model = tmp_path / "examples" / "model.py"
    model.parent.mkdir()
    shutil.copy(EXAMPLE, model)
    assert invoke("add", "sknet", "--into", model).exit_code == 0
    result = invoke("remove", "sk", "--from", model)
    assert result.exit_code == 0, result.output
    assert "deleted examples/blocks/sk.py (nothing else imports it)" in result.output
    assert not (tmp_path / "examples" / "blocks").exists() and (tmp_path / "blocks" / "sk.py").is_file()


@pytest.mark.parametrize(
    "user, code",
    [
        ("examples/train.py", "from blocks.sk import SKConv\n"),
        ("examples/train.py", "import blocks.sk\n"),
        ("examples/train.py", "from blocks import sk\n"),
        ("examples/pkg/use.py", "from ..blocks.sk import SKConv\n"),
    ],
)
def test_remove_keeps_a_block_that_another_file_really_imports(tmp_path, monkeypatch, user, code):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    model = tmp_path / "examples" / "model.py"
    model.parent.mkdir()
    shutil.copy(EXAMPLE, model)
    (tmp_path / "examples" / "pkg").mkdir()
    (tmp_path / "examples" / "pkg" / "__init__.py").write_text("")
    (tmp_path / user).write_text(code)
    assert invoke("add", "sknet", "--into", model).exit_code == 0
    result = invoke("remove", "sk", "--from", model)
    assert result.exit_code == 0, result.output
    assert "kept examples/blocks/sk.py: still imported by" in result.output
    assert (tmp_path / "examples" / "blocks" / "sk.py").is_file()


def test_dry_run_prints_a_diff_and_writes_nothing(model):
    original = model.read_bytes()
    result = CliRunner().invoke(main, ["add", "cbam", "--into", str(model), "--after", "bn2", "--dry-run"])
    assert result.exit_code == 0
    assert "+        self.cbam = CBAM(planes)" in result.stdout
    assert "+class CBAM(nn.Module):" in result.stdout  # the vendored file is part of the diff
    assert model.read_bytes() == original
    assert not (model.parent / "blocks").exists()


def test_inline_mode_puts_the_block_in_the_model_file(model):
    result = invoke("add", "eca", "--into", model, "--after", "bn2", "--inline")
    assert result.exit_code == 0, result.output
    text = model.read_text()
    assert "class EfficientChannelAttention(nn.Module):" in text and "import blocks" not in text
    assert not (model.parent / "blocks").exists()
    assert invoke("remove", "eca", "--from", model).exit_code == 0
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_replace_maps_the_conv_arguments(model):
    result = invoke("add", "ghost", "--into", model, "--replace", "conv2")
    assert result.exit_code == 0, result.output
    assert "self.conv2 = GhostModule(planes, planes, kernel_size=3, stride=stride)" in model.read_text()


def test_anchors_lists_constructor_channels_and_use(model):
    result = invoke("anchors", model)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["ANCHOR", "CHANNELS", "USE", "IN", "FORWARD", "CONSTRUCTOR"]
    bn3 = next(line for line in lines if line.startswith("bn3"))
    assert "planes * self.expansion" in bn3 and "called 1x" in bn3 and "nn.BatchNorm2d(planes * self.expansion)" in bn3


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--after", "bn2", "--before", "bn3"], 2, "give only one of them"),
        (["--after", "bn9"], 1, "bn9"),
        (["--class", "Nope"], 1, "Bottleneck"),
        (["--channels", "planes +"], 1, "--channels"),
    ],
)
def test_add_errors_name_the_fix_and_change_nothing(model, args, code, message):
    original = model.read_bytes()
    result = invoke("add", "se", "--into", model, *args)
    assert result.exit_code == code
    assert message in result.output
    assert model.read_bytes() == original and not (model.parent / "blocks").exists()


def test_bad_files_are_reported(tmp_path):
    assert "does not exist" in invoke("add", "se", "--into", tmp_path / "missing.py").output
    (tmp_path / "model.txt").write_text("x = 1\n")
    assert "is not a .py file" in invoke("add", "se", "--into", tmp_path / "model.txt").output
    broken = tmp_path / "broken.py"
    broken.write_text("class A(nn.Module:\n    pass\n")
    result = invoke("add", "se", "--into", broken)
    assert result.exit_code == 1 and "syntax error at line 1" in result.output
    assert broken.read_text() == "class A(nn.Module:\n    pass\n"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"role": "fuse"}, "fuses several feature maps"),
        ({"role": "utility"}, "is a utility function"),
        ({"input": Contract("BCNT", "channels")}, "works on BCNT tensors"),
    ],
)
def test_blocks_that_cannot_go_next_to_one_layer_are_refused(model, change, message):
    spec = dataclasses.replace(CATALOG.get("se"), **change)
    with pytest.raises(PlugforgeError, match=message):
        wiring.add(wiring.AddRequest(spec, model, wiring.placement(name=spec.id)))
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_add_and_anchors_do_not_import_torch(model):
    probe = (
        "import sys\nfrom plugforge.cli import main\n"
        f"main(['add', 'se', '--into', {str(model)!r}, '--after', 'bn2'], standalone_mode=False)\n"
        f"main(['anchors', {str(model)!r}], standalone_mode=False)\n"
        f"main(['remove', 'se', '--from', {str(model)!r}], standalone_mode=False)\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_after_a_sequential_element_prints_the_key_renaming_that_loads_old_weights(tmp_path):
    """`--after features.3` renumbers features.4 on: the printed renaming loads a pretrained state_dict."""
    shutil.copy(EXAMPLE.parents[1] / "tests" / "corpus" / "vgg.py", tmp_path / "vgg.py")
    save = (
        "import torch, vgg\ntorch.manual_seed(0)\nmodel = vgg.VGG().eval()\ntorch.save(model.state_dict(), 'old.pt')\n"
        "torch.save(model(torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))), 'out.pt')\n"
    )
    assert subprocess.run([sys.executable, "-c", save], cwd=tmp_path).returncode == 0
    result = invoke("add", "se", "--into", tmp_path / "vgg.py", "--after", "features.3", "--identity-init")
    assert result.exit_code == 0, result.output
    assert "features.4 to features.7 moved up by one, and so did their state_dict keys" in result.output
    [rename] = [line.strip() for line in result.output.splitlines() if line.strip().startswith("state = ")]
    load = (
        f"import re, torch, vgg\nstate = torch.load('old.pt')\n{rename}\nmodel = vgg.VGG().eval()\n"
        "missing, unexpected = model.load_state_dict(state, strict=False)\n"
        "assert not unexpected and all(key.startswith('features.4.') for key in missing), (missing, unexpected)\n"
        "out = model(torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)))\n"
        "print(torch.equal(out, torch.load('out.pt')))\n"
    )
    run = subprocess.run([sys.executable, "-c", load], cwd=tmp_path, capture_output=True, text=True)
    assert run.stdout.strip() == "True", run.stderr


def test_name_inside_a_sequential_is_refused_not_ignored(tmp_path):
    shutil.copy(EXAMPLE.parents[1] / "tests" / "corpus" / "vgg.py", tmp_path / "vgg.py")
    before = (tmp_path / "vgg.py").read_bytes()
    result = invoke("add", "se", "--into", tmp_path / "vgg.py", "--after", "features.3", "--name", "attn")
    assert result.exit_code == 1
    assert "--name attn cannot name an element of the nn.Sequential features" in result.output
    assert "--after features" in result.output and (tmp_path / "vgg.py").read_bytes() == before
    appended = invoke("add", "se", "--into", tmp_path / "vgg.py", "--after", "features.7")
    assert "no element of features moved" in appended.output


LITERAL_WIDTH = (
    "from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.conv = nn.Conv2d(3, 18, 3, padding=1)\n        self.bn = nn.BatchNorm2d(18)\n\n"
    "    def forward(self, x):\n        return self.bn(self.conv(x))\n"
)


def test_a_literal_width_the_block_cannot_take_is_refused_with_a_setting_that_works(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(LITERAL_WIDTH)
    result = invoke("add", "gam", "--into", model, "--after", "bn", "--set", "groups=4")
    assert result.exit_code == 1
    assert "gam needs channels % groups == 0, but the width at the anchor is 18 with groups=4: add --set groups=2" in (
        result.output
    )
    assert model.read_text() == LITERAL_WIDTH and not (tmp_path / "blocks").exists()
    assert invoke("add", "gam", "--into", model, "--after", "bn", "--set", "groups=2").exit_code == 0


def test_replace_refuses_a_conv_whose_widths_the_block_cannot_keep(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(LITERAL_WIDTH.replace("nn.Conv2d(3, 18, 3, padding=1)", "nn.Conv2d(in_ch, 18, 3, padding=1)"))
    before = model.read_text()
    result = invoke("add", "pconv", "--into", model, "--replace", "conv")
    assert result.exit_code == 1
    assert "PartialConv needs out_channels == in_channels (the untouched channels pass through)" in result.output
    assert "conv gives in_channels=in_ch, out_channels=18: plugforge cannot tell whether it holds" in result.output
    assert model.read_text() == before


VARIABLE_KERNEL = (
    "from torch import nn\n\n\nclass Block(nn.Module):\n    def __init__(self, c_in, c_out, k=1):\n"
    "        super().__init__()\n        self.conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)\n\n"
    "    def forward(self, x):\n        return self.conv(x)\n\n\nclass Net(nn.Module):\n    def __init__(self, k=3):\n"
    "        super().__init__()\n        self.a = Block(8, 8, k)\n        self.b = Block(8, 16, 3)\n\n"
    "    def forward(self, x):\n        return self.b(self.a(x))\n"
)


def test_replace_checks_at_run_time_what_the_source_cannot_tell(tmp_path):
    pytest.importorskip("torch")
    model = tmp_path / "model.py"
    model.write_text(VARIABLE_KERNEL)
    options = ["--into", model, "--class", "Block", "--replace", "conv", "--inline"]
    undecided = invoke("add", "ac_block", *options)
    assert undecided.exit_code == 1 and "ACBlock needs kernel_size >= 3, and conv gives kernel_size=k" in undecided.output
    assert "pass --build EXPR (the model to build) to check it in every Block at run time" in undecided.output
    broken = invoke("add", "ac_block", *options, "--build", "Net(k=1)")
    assert broken.exit_code == 1, broken.output
    assert "ACBlock needs kernel_size >= 3, but in Net(k=1) a Block.conv has kernel_size=(1, 1)" in broken.output
    assert model.read_text() == VARIABLE_KERNEL
    wired = invoke("add", "ac_block", *options, "--build", "Net()")
    assert wired.exit_code == 0, wired.output
    assert "checked at run time: kernel_size >= 3 and kernel_size % 2 == 1 holds for Block.conv in all 2 of Net()" in (
        wired.output
    )
    assert "self.conv = ACBlock(c_in, c_out, kernel_size=k, padding=k // 2)" in model.read_text()
