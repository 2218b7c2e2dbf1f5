"""`plugforge add/remove/anchors` on Ultralytics-style model YAMLs, without Ultralytics.

The model file and the tasks.py here are written for these tests in Ultralytics'
layout (rows ``- [from, repeats, module, args]``, a ``parse_model`` whose chain
ends in ``else: c2 = ch[f]``); tests/realworld/test_yolo.py runs the same
commands on the files of a real Ultralytics wheel.
"""

import pytest
import yaml

from plugforge.wire import yolo_tasks, yolo_yaml
from plugforge.wire.errors import WireError
from tests.conftest import invoke

MODEL = """\
# a small detector for the tests
nc: 3
scales: # [depth, width, max_channels]
  n: [0.33, 0.25, 1024]
  s: [0.33, 0.50, 1024]

backbone:
  # [from, repeats, module, args]
  - [-1, 1, Conv, [32, 3, 2]] # 0-P1/2
  - [-1, 1, Conv, [64, 3, 2]] # 1-P2/4
  - [-1, 2, C2f, [64, True]]
  - [-1, 1, Conv, [128, 3, 2]] # 3-P3/8
  - [-1, 1, SPPF, [128, 5]] # 4

head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 2], 1, Concat, [1]] # cat backbone P2
  - [-1, 1, C2f, [64]] # 7

  - [[-1, -3], 1, Concat, [1]] # relative source
  - [[7, 4], 1, Detect, [nc]] # Detect(P2, P3)
"""

TASKS = '''\
"""A tasks.py in Ultralytics' layout, written for the tests."""

import torch

from ultralytics.nn.modules import (
    Concat,
    Conv,
)
from ultralytics.utils.ops import make_divisible


def parse_model(d, ch, verbose=True):
    max_channels = float("inf")
    nc, width = d["nc"], 1.0
    base_modules = frozenset({Conv})
    for i, (f, n, m, args) in enumerate(d["backbone"] + d["head"]):
        if m in base_modules:
            c1, c2 = ch[f], args[0]
            c2 = make_divisible(min(c2, max_channels) * width, 8)
        elif m is Concat:
            c2 = sum(ch[x] for x in f)
        else:
            c2 = ch[f]
    return c2
'''


@pytest.fixture
def yolo(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(MODEL, encoding="utf-8")
    return path


def rows(text):
    data = yaml.safe_load(text)
    return data["backbone"] + data["head"]


def changed_lines(before, after):
    old, new = before.splitlines(), after.splitlines()
    return [line for line in new if line not in old]


def test_add_writes_stem_id_yaml_with_one_new_line_and_renumbered_rows(yolo):
    result = invoke("add", "cbam", "--into", yolo, "--after", "2")
    assert result.exit_code == 0, result.output
    assert yolo.read_text() == MODEL  # the input is untouched
    wired = (yolo.parent / "tiny-cbam.yaml").read_text()
    assert changed_lines(MODEL, wired) == [
        "  - [-1, 1, CBAM, []] # plugforge: cbam",
        "  - [-1, 1, Conv, [128, 3, 2]] # 4-P3/8",
        "  - [-1, 1, SPPF, [128, 5]] # 5",
        "  - [[-1, 3], 1, Concat, [1]] # cat backbone P2",
        "  - [-1, 1, C2f, [64]] # 8",
        "  - [[8, 5], 1, Detect, [nc]] # Detect(P2, P3)",
    ]
    assert rows(wired)[9] == [[-1, -3], 1, "Concat", [1]]  # relative -3 still reads the Concat's target
    assert "load it as tinyn-cbam.yaml" not in result.output  # no version digits: no scale letter claimed
    assert "layers moved: 3..9 -> 4..10" in result.output


def test_rewire_next_keeps_other_consumers_on_the_anchor(yolo):
    edit = yolo_yaml.insert(MODEL, [2], yolo_yaml.row_text("CBAM", [], "cbam"), "next")
    layers = rows(edit.text)
    assert layers[3][2] == "CBAM" and layers[4][0] == -1  # the next row reads the block
    assert layers[7][0] == [-1, 2]  # the Concat still reads layer 2
    edit_all = yolo_yaml.insert(MODEL, [2], yolo_yaml.row_text("CBAM", [], "cbam"), "all")
    assert rows(edit_all.text)[7][0] == [-1, 3]


def test_relative_sources_keep_their_target(yolo):
    edit = yolo_yaml.insert(MODEL, [7], yolo_yaml.row_text("CBAM", [], "cbam"), "all")
    layers = rows(edit.text)
    # row 8 read [-1, -3] = [7, 5]; after the block at 8 it is row 9 reading [8 (the block), 5]
    assert layers[9][0] == [-1, -4] and layers[10][0] == [8, 4]
    edit = yolo_yaml.insert(MODEL, [5], yolo_yaml.row_text("CBAM", [], "cbam"), "all")
    assert rows(edit.text)[9][0] == [-1, -3]  # the target (6 -> the block 6 after anchor 5) is before the row


@pytest.mark.parametrize("rewire", ["all", "next"])
def test_every_position_equals_the_dict_edit_and_removes_to_the_original_bytes(rewire):
    for anchor in range(len(rows(MODEL)) - 1):
        edit = yolo_yaml.insert(MODEL, [anchor], yolo_yaml.row_text("SimAM", [], "simam"), rewire)
        assert rows(edit.text) == _dict_insert(rows(MODEL), anchor, rewire)
        assert yolo_yaml.remove(edit.text, "simam").text == MODEL


def _dict_insert(layers, anchor, rewire):
    """The intended edit, on the parsed rows: written here independently of the tool."""
    out = []
    for index, (frm, n, module, args) in enumerate(layers):
        if index > anchor:
            refs = frm if isinstance(frm, list) else [frm]
            new = []
            for ref in refs:
                target = ref if ref >= 0 else index + ref
                moved = target + 1 if target > anchor or (target == anchor and rewire == "all") else target
                new.append(-1 if ref == -1 else moved if ref >= 0 else moved - (index + 1))
            frm = new if isinstance(frm, list) else new[0]
        out.append([frm, n, module, args])
        if index == anchor:
            out.append([-1, 1, "SimAM", []])
    return out


def test_stale_index_comments_are_kept_so_that_remove_gives_back_the_bytes():
    stale = MODEL.replace("[64]] # 7", "[64]] # 8")  # a comment that no longer matches its row
    edit = yolo_yaml.insert(stale, [2], yolo_yaml.row_text("CBAM", [], "cbam"))
    assert "# 3-P3/8" in edit.text and "# 8\n" in edit.text  # no number follows the rows
    assert yolo_yaml.remove(edit.text, "cbam").text == stale
    edited = edit.text.replace("# cat backbone P2", "# mine")
    assert yolo_yaml.remove(edited, "cbam").text == stale.replace("# cat backbone P2", "# mine")


def test_several_indices_in_one_run_and_remove_all_of_them(yolo):
    result = invoke("add", "eca", "--into", yolo, "--after", "1,3,7", "--in-place")
    assert result.exit_code == 0, result.output
    text = yolo.read_text()
    assert [i for i, row in enumerate(rows(text)) if row[2] == "EfficientChannelAttention"] == [2, 5, 10]
    assert rows(text)[-1][0] == [10, 6]  # Detect reads the block after 7 and the SPPF (4, moved by two)
    again = invoke("add", "eca", "--into", yolo, "--after", "1", "--in-place")
    assert again.exit_code == 0 and yolo.read_text() == text  # the block is there already: nothing changes
    result = invoke("remove", "eca", "--from", yolo)
    assert result.exit_code == 0, result.output
    assert yolo.read_text() == MODEL


def test_after_layer_names_a_module_type_its_kth_or_the_backbone(yolo):
    rows_ = yolo_yaml.parse(MODEL)
    from plugforge.wiring.yolo import layer_index

    assert layer_index(rows_, "SPPF", yolo) == 4
    assert layer_index(rows_, "backbone", yolo) == 4
    assert layer_index(rows_, "C2f:2", yolo) == 7
    with pytest.raises(Exception, match="has 2 C2f layers"):
        layer_index(rows_, "C2f", yolo)
    result = invoke("add", "se", "--into", yolo, "--after-layer", "backbone")
    assert result.exit_code == 0, result.output
    wired = (yolo.parent / "tiny-se.yaml").read_text()
    data = yaml.safe_load(wired)
    assert data["backbone"][-1][2] == "SqueezeExcitation"  # the block ends the backbone


def test_row_args_are_the_non_channel_params_in_catalog_order_up_to_the_last_set(yolo):
    assert invoke("add", "cbam", "--into", yolo, "--after", "2", "--set", "kernel_size=3").exit_code == 0
    assert rows((yolo.parent / "tiny-cbam.yaml").read_text())[3] == [-1, 1, "CBAM", [16, 3]]
    (yolo.parent / "tiny-cbam.yaml").unlink()
    assert invoke("add", "cbam", "--into", yolo, "--after", "2", "--identity-init").exit_code == 0
    assert rows((yolo.parent / "tiny-cbam.yaml").read_text())[3] == [-1, 1, "CBAM", [16, 7, True]]


def test_in_out_block_takes_the_anchor_width_or_the_set_one(yolo):
    assert invoke("add", "rfb", "--into", yolo, "--after", "3").exit_code == 0
    assert rows((yolo.parent / "tiny-rfb.yaml").read_text())[4] == [-1, 1, "BasicRFB", [128]]
    result = invoke("add", "rfb", "--into", yolo, "--after", "5")  # nn.Upsample states no width
    assert result.exit_code == 1 and "--set out_channels=N" in result.output


def test_runtime_mode_writes_a_register_package_beside_the_yaml(yolo):
    result = invoke("add", "cbam", "--into", yolo, "--after", "2")
    package = yolo.parent / "plugforge_yolo"
    assert "plugforge_yolo.register()" in result.output and "does not call it" in result.output
    init = (package / "__init__.py").read_text()
    assert "PLUGFORGE_SAME_CHANNELS = frozenset({CBAM})" in init and "def register()" in init
    assert (package / "cbam.py").is_file() and (package / "_register.py").is_file()
    (package / "__pycache__").mkdir()  # the package was imported: Python compiled it
    (package / "__pycache__" / "cbam.cpython-311.pyc").write_bytes(b"")
    assert invoke("remove", "cbam", "--from", yolo.parent / "tiny-cbam.yaml").exit_code == 0
    assert not package.exists()  # what add created goes, with the bytecode of its modules


def test_runtime_remove_keeps_the_package_folder_while_it_holds_a_file_plugforge_did_not_write(yolo):
    assert invoke("add", "cbam", "--into", yolo, "--after", "2").exit_code == 0
    package = yolo.parent / "plugforge_yolo"
    (package / "notes.txt").write_text("mine\n")
    assert invoke("remove", "cbam", "--from", yolo.parent / "tiny-cbam.yaml").exit_code == 0
    assert sorted(p.name for p in package.iterdir()) == ["notes.txt"]


def ultralytics_checkout(tmp_path, tasks=TASKS):
    package = tmp_path / "ultralytics"
    (package / "nn" / "modules").mkdir(parents=True)
    (package / "nn" / "tasks.py").write_text(tasks, encoding="utf-8")
    return package


def test_source_mode_patches_tasks_and_remove_restores_it(yolo, tmp_path):
    package = ultralytics_checkout(tmp_path)
    result = invoke("add", "cbam", "--into", yolo, "--after", "2", "--ultralytics", tmp_path)
    assert result.exit_code == 0, result.output
    tasks = (package / "nn" / "tasks.py").read_text()
    assert "from ultralytics.nn.modules.plugforge_blocks import *" in tasks
    assert "elif m in PLUGFORGE_SAME_CHANNELS:" in tasks and tasks.index("PLUGFORGE_IN_OUT:") < tasks.index(
        "else:\n            c2 = ch[f]"
    )
    compile(tasks, "tasks.py", "exec")
    listing = (package / "nn" / "modules" / "plugforge_blocks.py").read_text()
    assert "from .cbam import CBAM" in listing
    assert invoke("add", "rfb", "--into", yolo, "--after", "3", "--ultralytics", tmp_path).exit_code == 0
    listing = (package / "nn" / "modules" / "plugforge_blocks.py").read_text()
    assert "PLUGFORGE_IN_OUT = frozenset({BasicRFB})" in listing
    assert (package / "nn" / "tasks.py").read_text() == tasks  # patched once
    for block in ("cbam", "rfb"):
        result = invoke("remove", block, "--from", yolo.parent / f"tiny-{block}.yaml", "--ultralytics", tmp_path)
        assert result.exit_code == 0, result.output
        assert (yolo.parent / f"tiny-{block}.yaml").read_text() == MODEL
    assert (package / "nn" / "tasks.py").read_text() == TASKS
    assert sorted(p.name for p in (package / "nn" / "modules").iterdir()) == []


def test_tasks_patch_is_idempotent_and_undone_exactly():
    patched = yolo_tasks.patch(TASKS)
    assert yolo_tasks.patch(patched) == patched
    assert yolo_tasks.unpatch(patched) == TASKS
    added = [line for line in patched.splitlines() if line not in TASKS.splitlines()]
    assert "                c2 = make_divisible(min(c2, max_channels) * width, 8)" in added


@pytest.mark.parametrize("tasks, message", [
    (TASKS.replace("        else:\n            c2 = ch[f]\n", ""), "no final `else: c2 = ch\\[f\\]`"),
    (TASKS + "\n\ndef other(ch, f, m):\n    if m:\n        pass\n    else:\n        c2 = ch[f]\n", None),
    (TASKS.replace("        elif m is Concat:", "        elif m is Concat:\n            if f:\n                c2 = 1\n            else:\n                c2 = ch[f]\n        elif m is None:"), "2 final"),
])  # fmt: skip
def test_tasks_patch_refuses_unless_the_fallback_occurs_exactly_once(tasks, message):
    if message is None:  # another function's else does not count
        assert "PLUGFORGE_SAME_CHANNELS" in yolo_tasks.patch(tasks)
        return
    with pytest.raises(WireError, match=message):
        yolo_tasks.patch(tasks)


@pytest.mark.parametrize("args, message", [
    (["asff", "--after", "2"], "fuses several feature maps"),
    (["pyraformer_pam", "--after", "2"], "works on BNC tensors"),
    (["cbam", "--after", "9"], "last row"),
    (["cbam", "--after", "12"], "layers 0..9"),
    (["cbam", "--after", "x"], "layer indices"),
    (["spp", "--after", "2"], "turns C channels into"),
    (["double_attn", "--after", "2", "--set", "reconstruct=false"], "turns C channels into"),
    (["cbam", "--after", "2", "--rewire", "next", "--class", "Net"], "--class: not for a YOLO model YAML"),
    (["cbam"], "give the position"),
])  # fmt: skip
def test_refusals_leave_every_file_untouched(yolo, args, message):
    result = invoke("add", args[0], "--into", yolo, *args[1:])
    assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output
    assert sorted(p.name for p in yolo.parent.iterdir()) == ["tiny.yaml"] and yolo.read_text() == MODEL


def test_an_anchor_that_outputs_a_tuple_is_refused(yolo):
    yolo.write_text(MODEL.replace("  - [-1, 1, SPPF, [128, 5]] # 4", "  - [-1, 1, CBLinear, [[32, 64]]] # 4"))
    result = invoke("add", "cbam", "--into", yolo, "--after", "4")
    assert result.exit_code == 1 and "(CBLinear) does not output one (B, C, H, W) map" in result.output
    assert sorted(p.name for p in yolo.parent.iterdir()) == ["tiny.yaml"]


def test_a_class_name_tasks_already_has_is_refused(yolo, tmp_path):
    tasks = TASKS.replace("    Conv,\n)", "    Conv,\n    SPPF,\n)")
    package = ultralytics_checkout(tmp_path, tasks)
    result = invoke("add", "sppf", "--into", yolo, "--after", "2", "--ultralytics", tmp_path)
    assert result.exit_code == 1 and "already has a SPPF" in result.output
    assert (package / "nn" / "tasks.py").read_text() == tasks and not (yolo.parent / "tiny-sppf.yaml").exists()
    result = invoke("add", "sppf", "--into", yolo, "--after", "2")  # runtime mode, Ultralytics not found
    assert result.exit_code == 1 and "already has a SPPF" in result.output


def test_multiline_rows_are_refused(yolo):
    yolo.write_text(
        MODEL.replace("  - [-1, 1, Conv, [64, 3, 2]] # 1-P2/4", "  - - -1\n    - 1\n    - Conv\n    - [64, 3, 2]")
    )
    result = invoke("add", "cbam", "--into", yolo, "--after", "2")
    assert result.exit_code == 1 and "one line" in result.output


def test_stride_changing_block_warns_with_numbers(yolo):
    result = invoke("add", "inverted_residual", "--into", yolo, "--after", "2", "--set", "stride=2")
    assert result.exit_code == 0, result.output
    assert "stride=2 divides H and W by 2 after layer(s) 2" in result.output
    assert "the head's inputs 7, 4 get 2x their stride" in result.output and "Concat" not in result.output
    result = invoke("add", "inverted_residual", "--into", yolo, "--after", "4", "--set", "stride=2", "--in-place")
    assert "Concat layer(s) 6 (old numbering) join it with maps of the old size" in " ".join(result.output.split())


def test_anchors_lists_every_layer_statically(yolo):
    result = invoke("anchors", yolo)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["INDEX", "FROM", "MODULE", "ARGS", "COMMENT"]
    assert lines[5].split()[:3] == ["4", "-1", "SPPF"] and lines[5].endswith("4")
    assert len(lines) == 11


def test_dry_run_prints_the_diff_and_writes_nothing(yolo):
    result = invoke("add", "cbam", "--into", yolo, "--after", "2", "--dry-run")
    assert result.exit_code == 0 and "+  - [-1, 1, CBAM, []] # plugforge: cbam" in result.output
    assert sorted(p.name for p in yolo.parent.iterdir()) == ["tiny.yaml"]


def test_an_existing_output_with_other_content_is_refused(yolo):
    (yolo.parent / "tiny-cbam.yaml").write_text("mine\n")
    result = invoke("add", "cbam", "--into", yolo, "--after", "2")
    assert result.exit_code == 1 and "exists with other content" in result.output
    assert (yolo.parent / "tiny-cbam.yaml").read_text() == "mine\n"


def test_a_row_text_is_ultralytics_flow_style():
    assert yolo_yaml.row_text("X", [1, 2.5, True, None, "avg", [3, 5]], "x") == (
        '[-1, 1, X, [1, 2.5, True, None, "avg", [3, 5]]] # plugforge: x'
    )
