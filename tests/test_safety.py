"""Nothing lost, nothing silent (issue 14): what plugforge refuses, and how it writes a user's files.

Each case is run as a user would, through the CLI, and checks both the message
and that the user's files are byte for byte what they were (or what they should be).
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import libcst as cst
import pytest

from plugforge.catalog.spec import find
from plugforge.rendering.cache import default_block
from plugforge.wire import WireError, remove
from plugforge.wire.imports import defined_names
from tests.conftest import EXAMPLE, invoke

# ---------------------------------------------------------------- remove: only what plugforge added


def test_remove_refuses_a_layer_of_the_user_and_lists_what_plugforge_added(model):
    assert invoke("add", "se", "--into", model, "--after", "bn2").exit_code == 0
    assert invoke("add", "ghost", "--into", model, "--replace", "conv1").exit_code == 0
    wired = model.read_bytes()
    result = invoke("remove", "bn1", "--from", model)
    assert result.exit_code == 1
    assert "self.bn1 = nn.BatchNorm2d(planes) in Bottleneck was not added by plugforge" in result.output
    assert "plugforge added to Bottleneck: conv1 (a replaced layer), se" in result.output
    assert model.read_bytes() == wired


def test_remove_in_an_untouched_model_says_plugforge_added_nothing(model):
    result = invoke("remove", "relu", "--from", model)
    assert result.exit_code == 1 and "plugforge added nothing to Bottleneck" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_remove_refuses_a_sequential_element_of_the_user(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(
        "from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())\n\n"
        "    def forward(self, x):\n        return self.features(x)\n"
    )
    original = model.read_bytes()
    assert invoke("add", "se", "--into", model, "--after", "features.1").exit_code == 0
    result = invoke("remove", "features.1", "--from", model)
    assert result.exit_code == 1 and "self.features.1 = nn.BatchNorm2d(8) in Net was not added" in result.output
    assert "plugforge added to Net: features.2" in result.output
    assert invoke("remove", "features.2", "--from", model).exit_code == 0
    assert model.read_bytes() == original


def test_remove_refuses_a_class_named_like_a_block_but_imported_from_elsewhere(tmp_path):
    """torchvision's own SqueezeExcitation is not the vendored SE, though the class name is the same."""
    model = tmp_path / "model.py"
    model.write_text(
        EXAMPLE.read_text()
        .replace("from torch import nn\n", "from torch import nn\nfrom torchvision.ops import SqueezeExcitation\n")
        .replace("        self.relu =", "        self.se = SqueezeExcitation(planes, planes // 4)\n        self.relu =")
    )
    original = model.read_bytes()
    result = invoke("remove", "se", "--from", model)
    assert result.exit_code == 1 and "self.se = SqueezeExcitation(planes, planes // 4)" in result.output
    assert model.read_bytes() == original


def test_remove_still_takes_out_a_vendored_block_whose_import_plugforge_wrote(model):
    invoke("add", "se", "--into", model, "--after", "bn2")
    result = invoke("remove", "se", "--from", model)
    assert result.exit_code == 0, result.output
    assert model.read_bytes() == EXAMPLE.read_bytes() and not (model.parent / "blocks").exists()


def test_wire_remove_without_a_project_refuses_torch_layers():
    with pytest.raises(WireError, match="was not added by plugforge"):
        remove(EXAMPLE.read_text(), "bn1")


# ---------------------------------------------------------------- a class defined twice

TWICE = """\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + 1


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.conv(x))
"""
FIRST, SECOND = TWICE[: TWICE.index("\n\n\nclass Block", 60)], TWICE[TWICE.index("\n\n\nclass Block", 60) :]


@pytest.mark.parametrize("options", [["--class", "Block"], []], ids=["--class", "no --class"])
def test_a_class_defined_twice_is_wired_in_the_definition_python_uses(tmp_path, options):
    model = tmp_path / "model.py"
    model.write_text(TWICE)
    result = invoke("add", "se", "--into", model, *options, "--after", "conv")
    assert result.exit_code == 0, result.output
    assert "Block is defined 2 times in the file; wired the last definition, the one Python uses" in result.output
    text = model.read_text()
    assert FIRST.split("from torch import nn\n")[1] in text  # the first definition is untouched, return included
    assert "        return self.bn(self.se(self.conv(x)))\n" in text
    assert text.count("SqueezeExcitation(c)") == 1 and "return self.conv(x) + 1" in text
    assert invoke("remove", "se", "--from", model).exit_code == 0
    assert model.read_text() == TWICE


def test_a_class_defined_twice_next_to_another_class_is_offered_once(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(TWICE + "\n\nclass Head(nn.Module):\n    def forward(self, x):\n        return x\n")
    result = invoke("add", "se", "--into", model, "--after", "conv")
    assert result.exit_code == 1 and "choose one: --class Block, --class Head" in result.output


# ---------------------------------------------------------------- symlinks, permissions, owners


def test_a_symlinked_model_is_written_through_and_its_blocks_go_where_it_is_imported_from(tmp_path):
    shared, project = tmp_path / "shared", tmp_path / "project"
    shared.mkdir(), project.mkdir()
    shutil.copy(EXAMPLE, shared / "model.py")
    link = project / "model.py"
    link.symlink_to(shared / "model.py")
    result = invoke("add", "se", "--into", link, "--after", "bn2")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and "SqueezeExcitation" in (shared / "model.py").read_text()
    assert (project / "blocks" / "se.py").is_file() and not (shared / "blocks").exists()
    from plugforge.measure.checking import Version, imported  # check and add --check import the model from the link too

    with imported(Version(link, "model.py")) as (module, _):
        assert module.SqueezeExcitation.__module__ == "blocks.se"
    assert invoke("remove", "se", "--from", link).exit_code == 0
    assert link.is_symlink() and (shared / "model.py").read_bytes() == EXAMPLE.read_bytes()
    assert not (project / "blocks").exists()


def test_a_read_only_model_is_refused_and_left_alone(model):
    model.chmod(0o444)
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1
    assert "model.py is read-only (mode -r--r--r--)" in result.output and "chmod u+w" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes() and stat.S_IMODE(model.stat().st_mode) == 0o444
    assert not (model.parent / "blocks").exists()


def test_a_rewritten_file_keeps_its_mode_and_group(model):
    model.chmod(0o640)
    group = next((g for g in (1, 2, 3) if g != model.stat().st_gid), None) if os.getuid() == 0 else None
    if group is not None:
        os.chown(model, -1, group)
    assert invoke("add", "se", "--into", model).exit_code == 0
    assert stat.S_IMODE(model.stat().st_mode) == 0o640
    if group is not None:
        assert model.stat().st_gid == group


@pytest.mark.parametrize("folder", [".", "blocks"])
def test_a_read_only_folder_is_refused_without_a_traceback(model, folder):
    target = model.parent / folder
    target.mkdir(exist_ok=True)
    target.chmod(0o555)
    try:
        result = invoke("add", "se", "--into", model)
    finally:
        target.chmod(0o755)
    assert result.exit_code == 1 and "is read-only" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes() and not any((model.parent / "blocks").glob("*"))


def test_a_plain_file_named_blocks_is_refused(model):
    (model.parent / "blocks").write_text("notes\n")
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and "blocks is a file, not a folder" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes() and (model.parent / "blocks").read_text() == "notes\n"


def test_new_into_a_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o555)
    try:
        result = invoke("new", "se", "-o", tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert result.exit_code == 1 and "is read-only" in result.output
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- never write what Python cannot compile


def test_a_file_with_a_nul_byte_is_refused_before_anything_is_written(model):
    broken = EXAMPLE.read_bytes().replace(
        b"return self.relu(out + identity)", b"return self.relu(out + identity)  # \0"
    )
    model.write_bytes(broken)
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1, result.output
    assert "model.py does not compile as it is (source code string cannot contain null bytes)" in result.output
    assert model.read_bytes() == broken and not (model.parent / "blocks").exists()


def test_code_only_the_compiler_refuses_is_refused(model):
    """libcst parses `return` at module level; CPython's compiler does not accept it."""
    broken = EXAMPLE.read_text() + "\nreturn 1\n"
    model.write_text(broken)
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and "'return' outside function" in result.output
    assert model.read_text() == broken


# ---------------------------------------------------------------- concurrent runs


def _together(*commands, cwd):
    processes = [
        subprocess.Popen([sys.executable, "-m", "plugforge", *map(str, c)], cwd=cwd, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    return [(p.wait(), p.stderr.read()) for p in processes]


def test_concurrent_adds_on_one_model_all_land_and_concurrent_removes_clean_up(model):
    anchors = {"se": "bn1", "eca": "bn2", "cbam": "bn3", "coord_att": "conv1"}
    results = _together(
        *(["add", block, "--into", "model.py", "--after", a] for block, a in anchors.items()), cwd=model.parent
    )
    assert all(code == 0 and "Traceback" not in err for code, err in results), results
    text = model.read_text()
    for block in anchors:
        assert f"self.{block} = " in text and f"from blocks.{block} import" in text
    blocks = model.parent / "blocks"
    assert sorted(p.name for p in blocks.glob("*.py")) == sorted(["__init__.py", *(f"{b}.py" for b in anchors)])
    assert not [p for p in model.parent.rglob("*.tmp")]
    results = _together(*(["remove", block, "--from", "model.py"] for block in anchors), cwd=model.parent)
    assert all(code == 0 and "Traceback" not in err for code, err in results), results
    assert model.read_bytes() == EXAMPLE.read_bytes()
    assert not blocks.exists(), sorted(blocks.rglob("*"))


# ---------------------------------------------------------------- --inline and names the file already has


def _conv_py(tmp_path):
    """A file with its own CBAM, as Ultralytics' conv.py has."""
    model = tmp_path / "conv.py"
    model.write_text(
        EXAMPLE.read_text().replace(
            "class Bottleneck",
            "class ChannelAttention(nn.Module):\n    pass\n\n\n"
            "class CBAM(nn.Module):\n    def __init__(self, c1, kernel_size=7):\n        super().__init__()\n\n"
            "    def forward(self, x):\n        return x\n\n\nclass Bottleneck",
        )
    )
    return model


def test_inline_refuses_to_reuse_a_class_of_the_user_with_the_blocks_name(tmp_path):
    model = _conv_py(tmp_path)
    original = model.read_bytes()
    result = invoke("add", "cbam", "--into", model, "--class", "Bottleneck", "--after", "bn2", "--inline")
    assert result.exit_code == 1
    assert "the file already has its own CBAM, ChannelAttention, not plugforge's inlined copy" in result.output
    assert "rename your CBAM, ChannelAttention (and the uses), or wire the block into a file that" in result.output
    assert model.read_bytes() == original


def test_inline_refuses_a_helper_name_the_file_already_uses(model):
    """SK's helper ConvNormAct is not the user's ConvNormAct: vendored mode keeps them apart."""
    assert "ConvNormAct" in _helper_names("sk")
    text = EXAMPLE.read_text().replace(
        "class Bottleneck", "def ConvNormAct(c):\n    return nn.Identity()\n\n\nclass Bottleneck"
    )
    model.write_text(text)
    result = invoke("add", "sk", "--into", model, "--inline")
    assert result.exit_code == 1 and "the file already has its own ConvNormAct, not plugforge's" in result.output
    assert "rename your ConvNormAct, or wire without --inline" in result.output and model.read_text() == text
    assert invoke("add", "sk", "--into", model).exit_code == 0  # the advice works


def _helper_names(block):
    """Names the block's file defines besides the block class: its helpers."""
    spec = find(block)
    return defined_names(cst.parse_module(default_block(spec)).body) - {spec.class_name}


def test_vendored_mode_clash_does_not_recommend_inline(tmp_path):
    model = _conv_py(tmp_path)
    result = invoke("add", "cbam", "--into", model, "--class", "Bottleneck", "--after", "bn2")
    assert result.exit_code == 1
    assert "already has its own CBAM (defined in the file)" in result.output and "--inline" not in result.output


def test_vendored_mode_next_to_plugforges_inlined_copy_recommends_inline(model):
    assert invoke("add", "cbam", "--into", model, "--after", "bn2", "--inline").exit_code == 0
    result = invoke("add", "cbam", "--into", model, "--after", "bn3", "--name", "cbam2")
    assert result.exit_code == 1 and "plugforge's inlined copy of CBAM; wire with --inline" in result.output
    again = invoke("add", "cbam", "--into", model, "--after", "bn3", "--name", "cbam2", "--inline")
    assert again.exit_code == 0 and model.read_text().count("class CBAM(") == 1


# ---------------------------------------------------------------- advice that leads to a working file

ARMS = """\
from torch import nn


class Stem(nn.Module):
    def __init__(self, c, wide=False):
        super().__init__()
        if wide:
            self.conv = nn.Conv2d(c, 64, 3, padding=1)
        else:
            self.conv = nn.Conv2d(c, 32, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))
"""


@pytest.mark.parametrize("anchor, because", [("conv", ""), ("act", "act keeps the width of conv, and ")])
def test_arms_of_an_if_with_other_widths_say_why_no_expression_fits(tmp_path, anchor, because):
    model = tmp_path / "model.py"
    model.write_text(ARMS)
    result = invoke("add", "se", "--into", model, "--after", anchor)
    assert result.exit_code == 1
    assert f"{because}self.conv is built with a different width in each arm of an if (64, 32)" in result.output
    assert "no single channel expression fits" in result.output and "pass --channels" not in result.output
    assert model.read_text() == ARMS


INHERITED = """\
from torch import nn


class Base(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)


class Mid(Base):
    pass


class Child(Mid):
    def __init__(self, c):
        super().__init__(c)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.conv(x))
"""


def test_an_inherited_anchor_names_the_class_that_assigns_it(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(INHERITED)
    result = invoke("add", "se", "--into", model, "--class", "Child", "--after", "conv")
    assert result.exit_code == 1
    assert "it is inherited from Base, which assigns it, while Child.forward calls it" in result.output
    assert "Mid" not in result.output.split(";")[0]


def test_an_anchor_inherited_from_another_file_says_which(tmp_path):
    package = tmp_path / "net"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(
        INHERITED.split("\n\nclass Mid")[0] + "\n    def forward(self, x):\n        return self.conv(x)\n"
    )
    (package / "model.py").write_text(
        "from torch import nn\n\nfrom .base import Base\n\n\nclass Child(Base):\n    def __init__(self, c):\n"
        "        super().__init__(c)\n        self.bn = nn.BatchNorm2d(c)\n\n    def forward(self, x):\n"
        "        return self.bn(super().forward(x))\n"
    )
    result = invoke("add", "se", "--into", package / "model.py", "--class", "Child", "--after", "conv")
    assert result.exit_code == 1
    assert f"inherited from Base (in {package / 'base.py'}), which assigns and calls it" in result.output
    assert f"--class Base --into {package / 'base.py'}" in result.output
    followed = invoke("add", "se", "--into", package / "base.py", "--class", "Base", "--after", "conv")
    assert followed.exit_code == 0, followed.output


# ---------------------------------------------------------------- messages instead of tracebacks


def test_a_pyproject_that_is_not_utf8_is_reported(model):
    (model.parent / "pyproject.toml").write_bytes(b'[tool.plugforge]\nstyle = "inline" # caf\xe9\n')
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and "pyproject.toml: it is not UTF-8" in result.output
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_diff_of_a_file_that_is_not_utf8_is_reported(tmp_path):
    assert invoke("new", "se", "-o", tmp_path, "--no-tests").exit_code == 0
    block = tmp_path / "se.py"
    block.write_bytes(block.read_bytes() + b"# \xe9t\xe9\n")
    for command in (["diff", block], ["update", block]):
        result = invoke(*command)
        assert result.exit_code == 1 and "is not UTF-8 text" in result.output and "save it as UTF-8" in result.output


def test_a_notebook_cell_without_source_is_read_as_empty(tmp_path):
    notebook = tmp_path / "train.ipynb"
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": []},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": EXAMPLE.read_text().splitlines(True)},
    ]
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = invoke("add", "se", "--into", notebook)
    assert result.exit_code == 0, result.output
    assert "source" not in json.loads(notebook.read_text())["cells"][0]


def test_a_notebook_source_of_the_wrong_type_is_reported(tmp_path):
    notebook = tmp_path / "train.ipynb"
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "source": 42}]
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = invoke("add", "se", "--into", notebook, "--cell", "1")
    assert result.exit_code == 1 and "cell 1 of" in result.output and '"source" is neither text' in result.output


NO_TORCH = textwrap.dedent("""
    import sys
    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, NoTorch())
    from plugforge.cli import main
    main(sys.argv[1:], prog_name="plugforge")
    """)


@pytest.mark.parametrize(
    "command",
    [
        ["check", "model.py", "--build", "Bottleneck(256, 64)", "--input", "1,256,8,8"],
        ["bench", "se"],
        ["add", "se", "--into", "model.py", "--check", "Bottleneck(256, 64)", "--input", "1,256,8,8"],
    ],
    ids=["check", "bench", "add --check"],
)
def test_commands_that_run_a_model_without_torch_say_how_to_install_it(model, command):
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *command], cwd=model.parent, capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "needs PyTorch, which is not installed" in result.stderr and "pip install torch" in result.stderr
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_remove_cleans_up_after_a_block_file_deleted_by_hand(model):
    invoke("add", "se", "--into", model, "--after", "bn2")
    (model.parent / "blocks" / "se.py").unlink()
    result = invoke("remove", "se", "--from", model)
    assert result.exit_code == 0, result.output
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_a_model_path_that_loops_is_reported(tmp_path):
    loop = tmp_path / "model.py"
    loop.symlink_to(tmp_path / "model.py")
    for command in (["add", "se", "--into", loop], ["remove", "se", "--from", loop]):
        result = invoke(*command)
        assert result.exit_code == 1 and "cannot read" in result.output and "Traceback" not in result.output


def test_concurrent_vendors_into_one_package_export_every_block(tmp_path):
    blocks = ["se", "eca", "cbam", "coord_att"]
    results = _together(*(["vendor", block, "-o", "pkg", "--no-tests"] for block in blocks), cwd=tmp_path)
    assert all(code == 0 and "Traceback" not in err for code, err in results), results
    init = (tmp_path / "pkg" / "__init__.py").read_text()
    assert all(f"from .{block} import" in init for block in blocks), init


def test_remove_deletes_a_symlinked_block_file_as_a_link_and_keeps_its_target(model, tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared")
    invoke("add", "se", "--into", model, "--after", "bn2")
    block = model.parent / "blocks" / "se.py"
    shutil.move(block, shared / "se.py")
    block.symlink_to(shared / "se.py")
    result = invoke("remove", "se", "--from", model)
    assert result.exit_code == 0, result.output
    assert not block.is_symlink() and (shared / "se.py").is_file()
    assert model.read_bytes() == EXAMPLE.read_bytes()


@pytest.mark.parametrize(
    "folder, file, message",
    [
        ("blocks/se.py", None, "blocks/se.py is a folder, where the block's file goes; move it away"),
        ("blocks", "blocks/.plugforge", "blocks/.plugforge is a file, not a folder"),
    ],
)
def test_odd_things_in_the_blocks_folder_are_reported(model, folder, file, message):
    (model.parent / folder).mkdir(parents=True)
    if file:
        (model.parent / file).write_text("")
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and message in result.output, result.output
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_a_users_block_file_that_is_not_utf8_is_refused_and_kept(model):
    (model.parent / "blocks").mkdir()
    (model.parent / "blocks" / "se.py").write_bytes(b"# \xff\n")
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and "is not plugforge's render of se" in result.output, result.output
    assert (model.parent / "blocks" / "se.py").read_bytes() == b"# \xff\n"
    assert model.read_bytes() == EXAMPLE.read_bytes()


def test_remove_scans_a_project_with_a_dangling_link_and_a_file_that_is_not_utf8(model):
    (model.parent / "dangling.py").symlink_to(model.parent / "nowhere.py")
    (model.parent / "latin.py").write_bytes(b'x = "\xff"\n')
    invoke("add", "se", "--into", model)
    result = invoke("remove", "se", "--from", model)
    assert result.exit_code == 0, result.output
    assert model.read_bytes() == EXAMPLE.read_bytes() and not (model.parent / "blocks").exists()
