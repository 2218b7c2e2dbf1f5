"""The command line as a user runs it: output, files, exit codes, and no torch import."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from plugforge.cli import main
from tests.conftest import run_cli


@pytest.fixture
def cli():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(map(str, args)))


def test_list_shows_every_block(cli, catalog):
    result = cli("list")
    assert result.exit_code == 0
    for spec in catalog.specs:
        assert spec.id in result.output and spec.class_name in result.output


def test_list_filters_by_category_and_prints_json(cli, catalog):
    result = cli("list", "--category", "Channel Attention", "--json")
    rows = json.loads(result.output)
    assert rows and all(row["category"] == "channel attention" for row in rows)
    assert {"id", "class", "summary", "paper", "role", "aliases"} <= set(rows[0])


def test_list_json_and_info_say_which_blocks_constrain_the_map_size(cli):
    rows = {row["id"]: row for row in json.loads(cli("list", "--json").output)}
    assert rows["weighted_permute_mlp"]["map_size"] == "an N x N map with N = segment_dim"
    assert rows["se"]["map_size"] is None and rows["bra"]["map_size"] is None
    shown = cli("info", "weighted_permute_mlp").output
    assert "Map size: an N x N map with N = segment_dim (with segment_dim=8: 8x8); `add --check` refuses" in shown
    assert "Map size" not in cli("info", "halo_attn").output


def test_list_rejects_an_unknown_category_with_the_choices(cli):
    result = cli("list", "--category", "magic")
    assert result.exit_code == 2
    assert "no category 'magic'; choose from: channel attention" in result.output


def test_info_shows_paper_parameters_shapes_and_examples(cli):
    result = cli("info", "SENet")
    assert result.exit_code == 0
    for text in (
        "se: SqueezeExcitation (channel attention, role: insert)",
        'Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018',
        "https://arxiv.org/abs/1709.01507",
        "reduction: int (>= 1), default 16",
        "channels: int (>= 1), required",
        "input:  NCHW (B, channels, H, W)",
        "Usually placed:",
        "plugforge add se --into model.py  # placed as the paper does: --after bn3",
    ):
        assert text in result.output


def test_unknown_block_fails_with_a_suggestion(cli):
    result = cli("info", "senett")
    assert result.exit_code == 1
    assert "No block named 'senett'. Did you mean " in result.output
    assert "'se'" in result.output.split("Did you mean", 1)[1]


def test_new_writes_block_and_tests_then_is_idempotent(cli, tmp_path):
    result = cli("new", "se", "-o", tmp_path, "--set", "reduction=8")
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    block = (tmp_path / "se.py").read_text()
    assert "reduction: int = 8" in block and '"reduction": 8' in block.splitlines()[0]
    assert (tmp_path / "test_se.py").exists()
    again = cli("new", "se", "-o", tmp_path, "--set", "reduction=8")
    assert again.exit_code == 0 and again.output.count("unchanged") == 2


def test_new_never_overwrites_a_differing_file_without_force(cli, tmp_path):
    cli("new", "se", "-o", tmp_path)
    tests_before = (tmp_path / "test_se.py").read_text()
    edited = (tmp_path / "se.py").read_text() + "# my edit\n"
    (tmp_path / "se.py").write_text(edited)
    result = cli("new", "se", "-o", tmp_path, "--set", "reduction=4")
    assert result.exit_code == 1
    assert "already exists with different content; nothing was written" in result.output
    assert (tmp_path / "se.py").read_text() == edited
    assert (tmp_path / "test_se.py").read_text() == tests_before
    forced = cli("new", "se", "-o", tmp_path, "--set", "reduction=4", "--force")
    assert forced.exit_code == 0 and "overwritten" in forced.output
    assert "reduction: int = 4" in (tmp_path / "se.py").read_text()


def test_new_without_tests(cli, tmp_path):
    assert cli("new", "se", "-o", tmp_path, "--no-tests").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".plugforge", "se.py"]
    assert (tmp_path / ".plugforge" / "se.py.base").read_text() == (tmp_path / "se.py").read_text()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--set", "reduction=x"], 1, "--set reduction=x: expected int (>= 1)"),
        (["--set", "reduction=0"], 1, "--set reduction=0: reduction must be int (>= 1), got 0"),
        (["--set", "gate=relu"], 1, "gate must be str (one of 'sigmoid', 'hard_sigmoid'), got 'relu'"),
        (["--set", "reducton=2"], 1, "se has no parameter 'reducton'. Did you mean 'reduction'?"),
        (["--set", "reduction"], 2, "expected NAME=VALUE, e.g. --set reduction=8"),
        (["--set", "channels=8"], 1, "channels has no default"),
    ],
)
def test_bad_set_values_fail_with_the_fix(cli, tmp_path, args, code, message):
    result = cli("new", "se", "-o", tmp_path, *args)
    assert result.exit_code == code
    assert message in result.output
    assert not list(tmp_path.iterdir())


def test_exit_codes_from_a_real_process(tmp_path):
    assert run_cli("list").returncode == 0
    failed = run_cli("info", "nope")
    assert failed.returncode == 1 and "Error: No block named 'nope'" in failed.stderr


@pytest.mark.parametrize("command", [["list"], ["list", "--json"], ["info", "se"], ["new", "se", "-o", "{tmp}"]])
def test_commands_that_need_no_torch_do_not_import_it(command, tmp_path):
    args = [a.format(tmp=tmp_path) for a in command]
    probe = (
        "import sys\n"
        "from plugforge.cli import main\n"
        f"main({args!r}, standalone_mode=False)\n"
        "heavy = sorted(m for m in ('torch', 'numpy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        f"if {args[0]!r} != 'new':\n"
        "    assert 'jinja2' not in sys.modules and 'black' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_help_lists_every_command_once_in_its_section_on_one_untruncated_line(cli):
    from plugforge.cli import SECTIONS

    result = cli("--help")
    assert result.exit_code == 0
    listed = [name for names in SECTIONS.values() for name in names]
    assert sorted(listed) == sorted(main.commands), "a command missing from SECTIONS is listed under 'Other commands'"
    lines = result.output.splitlines()
    for title, names in SECTIONS.items():
        start = lines.index(f"{title}:")
        rows = lines[start + 1 : start + 1 + len(names)]
        assert [row.split()[0] for row in rows] == names
    for name, command in main.commands.items():
        row = next(line for line in lines if line.split()[:1] == [name])
        assert len(row) <= 80 and not row.endswith("..."), row
        assert command.short_help and row.endswith(command.short_help)
