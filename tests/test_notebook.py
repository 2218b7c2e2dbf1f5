"""`plugforge add/remove` on Jupyter notebooks: one cell changes, everything else stays."""

import json
import subprocess
import sys

import pytest

from tests.conftest import invoke

IMPORTS = ["%matplotlib inline\n", "!pip list | head -1\n", "import torch\n", "from torch import nn"]
MODEL = [
    "class Net(nn.Module):\n",
    "    def __init__(self):\n",
    "        super().__init__()\n",
    "        self.conv = nn.Conv2d(3, 32, 3, padding=1)\n",
    "        self.bn = nn.BatchNorm2d(32)\n",
    "\n",
    "    def forward(self, x):\n",
    "        return torch.relu(self.bn(self.conv(x)))",
]
HEAD = ["class Head(nn.Module):\n", "    def __init__(self):\n", "        super().__init__()\n",
        "        self.fc = nn.Linear(32, 10)\n", "\n", "    def forward(self, x):\n", "        return self.fc(x)"]  # fmt: skip


def code_cell(source, count, outputs=()):
    return {"cell_type": "code", "execution_count": count, "id": f"c{count}", "metadata": {},
            "outputs": list(outputs), "source": source}  # fmt: skip


def write_notebook(path, *extra_cells):
    output = {"name": "stdout", "output_type": "stream", "text": ["torch.Size([2, 32, 8, 8])\n"]}
    cells = [
        {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": ["# Kaggle baseline — é\n", "Notes."]},
        code_cell(IMPORTS, 1),
        code_cell(MODEL, 2, [output]),
        code_cell(["print(Net()(torch.randn(2, 3, 8, 8)).shape)"], 3, [output]),
        *extra_cells,
    ]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def notebook(tmp_path):
    return write_notebook(tmp_path / "train.ipynb")


def run_cells(path):
    """Execute the notebook's code cells in order (shell and magic lines skipped), as a kernel would."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    probe = code + "\nnet = Net()\nprint(type(net.eca).__name__, tuple(net(torch.randn(2, 3, 9, 7)).shape))\n"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)


def test_add_changes_only_the_cell_that_defines_the_class(notebook):
    before = json.loads(notebook.read_text())
    result = invoke("add", "eca", "--into", notebook)
    assert result.exit_code == 0, result.output
    assert "in code cell 2 of" in result.output  # the markdown cell above is not counted
    after = json.loads(notebook.read_text())
    assert after["metadata"] == before["metadata"]
    for number, (old, new) in enumerate(zip(before["cells"], after["cells"]), start=1):
        if number == 3:
            assert {k: v for k, v in old.items() if k != "source"} == {k: v for k, v in new.items() if k != "source"}
        else:
            assert old == new
    code = "".join(after["cells"][2]["source"])
    assert "class EfficientChannelAttention(nn.Module):" in code
    assert "self.eca = EfficientChannelAttention(32)" in code
    assert "return torch.relu(self.eca(self.bn(self.conv(x))))" in code
    assert not (notebook.parent / "blocks").exists()  # always inline: Kaggle notebooks run offline


def test_the_wired_notebook_runs(notebook):
    assert invoke("add", "eca", "--into", notebook).exit_code == 0
    run = run_cells(notebook)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "EfficientChannelAttention (2, 32, 9, 7)"


def test_add_is_idempotent_and_remove_restores_the_exact_bytes(notebook):
    original = notebook.read_bytes()
    assert invoke("add", "eca", "--into", notebook, "--set", "kernel_size=5").exit_code == 0
    once = notebook.read_bytes()
    assert invoke("add", "eca", "--into", notebook, "--set", "kernel_size=5").exit_code == 0
    assert notebook.read_bytes() == once
    result = invoke("remove", "eca", "--from", notebook)
    assert result.exit_code == 0, result.output
    assert notebook.read_bytes() == original


def test_magics_in_the_wired_cell_are_kept(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb")
    data = json.loads(path.read_text())
    data["cells"][2]["source"] = ["%%time\n", *MODEL]
    path.write_text(json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    assert invoke("add", "se", "--into", path).exit_code == 0
    source = json.loads(path.read_text())["cells"][2]["source"]
    assert source[0] == "%%time\n" and not any("plugforge-magic" in line for line in source)


def test_dry_run_prints_the_notebook_diff_and_writes_nothing(notebook):
    before = notebook.read_bytes()
    result = invoke("add", "eca", "--into", notebook, "--dry-run")
    assert result.exit_code == 0 and "+    \"        self.eca = EfficientChannelAttention(32)\\n\"," in result.output
    assert notebook.read_bytes() == before


def test_several_model_cells_need_class_or_cell(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", code_cell(HEAD, 4))
    result = invoke("add", "se", "--into", path)
    assert result.exit_code == 1 and "pick one with --cell" in result.output
    assert "--cell 2 (Net); --cell 4 (Head)" in result.output
    by_cell = invoke("add", "se", "--into", path, "--cell", "2")  # the second code cell, after a markdown cell
    assert "in code cell 2 of" in by_cell.output
    assert by_cell.exit_code == 0, by_cell.output
    assert "self.se = SqueezeExcitation(32)" in "".join(json.loads(path.read_text())["cells"][2]["source"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cell", "1"], "code cell 1 of"),  # the imports cell
        (["--class", "Nope"], "no code cell of"),
        (["--cell", "3"], "code cell 3 of"),  # the print cell
        (["--cell", "9"], "has 3 code cell(s), so there is no code cell 9; code cells with nn.Module classes "
                          "(markdown cells are not counted): --cell 2 (Net)"),
    ],
)
def test_cell_errors_name_the_cells_that_work(notebook, args, message):
    before = notebook.read_bytes()
    result = invoke("add", "se", "--into", notebook, *args)
    assert result.exit_code == 1 and message in result.output
    assert notebook.read_bytes() == before


def test_cell_is_only_for_notebooks(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("".join(["import torch\nfrom torch import nn\n\n\n", *MODEL, "\n"]))
    result = invoke("add", "se", "--into", model, "--cell", "2")
    assert result.exit_code == 1 and "--cell picks a cell of a notebook" in result.output


def test_a_broken_notebook_is_a_clear_error(tmp_path):
    broken = tmp_path / "nb.ipynb"
    broken.write_text("{not json")
    result = invoke("add", "se", "--into", broken)
    assert result.exit_code == 1 and "is not a notebook" in result.output


def test_channels_may_name_what_an_earlier_cell_defines(notebook):
    data = json.loads(notebook.read_text())
    data["cells"][1]["source"].append("\nWIDTH = 32\n")
    notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    result = invoke("add", "se", "--into", notebook, "--after", "bn", "--channels", "WIDTH")
    assert result.exit_code == 0, result.output
    refused = invoke("add", "eca", "--into", notebook, "--after", "conv", "--channels", "len(WIDTH)")
    assert refused.exit_code == 1 and "only int, round, max, min may be called" in refused.output
