"""Provenance headers, `plugforge diff` and the 3-way `plugforge update`, on real edit scenarios.

The catalog "moves on" by pointing $PLUGFORGE_DATA_DIR at a copy of the bundled
catalog and templates whose SE entry and template were changed.
"""

import os
import shutil
import subprocess
import sys

import pytest

from plugforge import resources
from plugforge.rendering import provenance
from tests.conftest import invoke

UPSTREAM_DOC = "rescale the input. The layers are"  # a docstring line the new catalog rewords
UPSTREAM_CODE = "scale = x.mean((2, 3), keepdim=True)"  # a forward line the new catalog changes


@pytest.fixture
def rendered(tmp_path):
    """blocks/se.py as `plugforge new` renders it."""
    assert invoke("new", "se", "-o", tmp_path / "blocks", "--no-tests").exit_code == 0
    return tmp_path / "blocks" / "se.py"


@pytest.fixture
def moved_on(tmp_path, monkeypatch):
    """A catalog in which SE's docstring and forward changed."""
    data = tmp_path / "data"
    shutil.copytree(resources.catalog_dir(), data / "catalog")
    shutil.copytree(resources.templates_dir(), data / "templates")
    entry, template = data / "catalog" / "se.toml", data / "templates" / "blocks" / "se.py.j2"
    entry.write_text(entry.read_text().replace(UPSTREAM_DOC, "rescale the input; the layers are"))
    template.write_text(template.read_text().replace(UPSTREAM_CODE, "scale = x.mean(dim=(2, 3), keepdim=True)"))
    monkeypatch.setenv("PLUGFORGE_DATA_DIR", str(data))
    return data


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def add_method(path):
    path.write_text(path.read_text() + "\n    def extra_repr(self) -> str:  # mine\n        return 'se'\n")


def test_every_rendered_file_records_its_origin_and_hash(rendered):
    text = rendered.read_text()
    header = provenance.read(text)
    assert (header.block_id, header.params["reduction"], header.tests) == ("se", 16, False)
    assert provenance.is_pristine(text)
    assert (rendered.parent / ".plugforge" / "se.py.base").read_text() == text
    assert not provenance.is_pristine(text.replace("hidden = ", "hidden= "))


def test_diff_is_empty_and_exits_0_for_a_pristine_file(rendered):
    for args in ([], ["--upstream"]):
        result = invoke("diff", rendered, *args)
        assert (result.exit_code, result.output) == (0, "")


def test_diff_shows_your_edits_and_exits_1(rendered):
    edit(rendered, "hidden = max(1, channels // reduction)", "hidden = max(8, channels // reduction)")
    result = invoke("diff", rendered)
    assert result.exit_code == 1
    assert "-        hidden = max(1, channels // reduction)\n+        hidden = max(8, channels // reduction)" in result.output
    assert "(pristine)" in result.output and "(yours)" in result.output
    assert invoke("diff", rendered, "--upstream").exit_code == 0  # the catalog has not moved


def test_diff_upstream_shows_what_the_catalog_would_change(rendered, moved_on):
    result = invoke("diff", rendered, "--upstream")
    assert result.exit_code == 1
    assert f"-        {UPSTREAM_CODE}" in result.output and "+        scale = x.mean(dim=(2, 3)" in result.output
    assert "(catalog now)" in result.output


def test_update_of_an_unedited_file_takes_the_new_render(rendered, moved_on):
    result = invoke("update", rendered)
    assert result.exit_code == 0, result.output
    assert "updated (you had not edited it)" in result.output
    text = rendered.read_text()
    assert "scale = x.mean(dim=(2, 3), keepdim=True)" in text and provenance.is_pristine(text)
    assert (rendered.parent / ".plugforge" / "se.py.base").read_text() == text
    assert invoke("diff", rendered).exit_code == 0


def test_edits_above_and_below_a_changed_region_are_kept(rendered, moved_on):
    edit(rendered, "from torch import nn\n", "from torch import nn\n\nEPS = 1e-6  # mine, above\n")
    add_method(rendered)  # below
    edit(rendered, "self.act = nn.ReLU(inplace=True)", "self.act = nn.SiLU()  # mine, inside __init__")
    result = invoke("update", rendered)
    assert result.exit_code == 0, result.output
    assert "merged; your edits are kept" in result.output
    text = rendered.read_text()
    assert "EPS = 1e-6  # mine, above" in text and "def extra_repr(self) -> str:  # mine" in text
    assert "self.act = nn.SiLU()  # mine, inside __init__" in text
    assert "scale = x.mean(dim=(2, 3), keepdim=True)" in text and "rescale the input; the layers are" in text
    assert "<<<<<<<" not in text
    assert provenance.read(text).sha256 == provenance.read(provenance.base_path(rendered).read_text()).sha256
    diff = invoke("diff", rendered)  # only your edits remain as differences
    assert diff.exit_code == 1 and "+EPS = 1e-6" in diff.output and "dim=(2, 3)" not in diff.output


def test_an_edit_inside_a_changed_region_is_a_conflict_that_keeps_both(rendered, moved_on):
    edit(rendered, UPSTREAM_CODE, "scale = x.amax((2, 3), keepdim=True)  # mine: max pooling")
    add_method(rendered)
    result = invoke("update", rendered)
    assert result.exit_code == 1
    assert "1 conflict(s) marked" in result.output and "Needs your attention" in result.output
    text = rendered.read_text()
    conflict = text[text.index("<<<<<<< yours") : text.index(">>>>>>> catalog")]
    assert "x.amax((2, 3), keepdim=True)  # mine: max pooling" in conflict
    assert "||||||| base" in conflict and UPSTREAM_CODE in conflict
    assert "scale = x.mean(dim=(2, 3), keepdim=True)" in conflict
    assert "def extra_repr(self) -> str:  # mine" in text  # the edit elsewhere is merged
    assert "rescale the input; the layers are" in text


def test_a_deleted_line_that_upstream_changed_is_a_conflict(rendered, moved_on):
    edit(rendered, f"        {UPSTREAM_CODE}\n", "")
    result = invoke("update", rendered)
    assert result.exit_code == 1
    assert "<<<<<<< yours" in rendered.read_text()


def test_an_edited_file_the_catalog_did_not_change_is_left_alone(rendered):
    add_method(rendered)
    before = rendered.read_bytes()
    result = invoke("update", rendered)
    assert result.exit_code == 0 and "up to date" in result.output
    assert rendered.read_bytes() == before


def test_dry_run_shows_the_merge_and_writes_nothing(rendered, moved_on):
    add_method(rendered)
    before, base = rendered.read_bytes(), provenance.base_path(rendered).read_bytes()
    result = invoke("update", rendered, "--dry-run")
    assert result.exit_code == 0
    assert "+        scale = x.mean(dim=(2, 3), keepdim=True)" in result.output
    assert rendered.read_bytes() == before and provenance.base_path(rendered).read_bytes() == base


def test_update_all_finds_every_rendered_file_of_the_project(tmp_path, moved_on, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'net'\n")
    monkeypatch.delenv("PLUGFORGE_DATA_DIR")  # render with the bundled catalog, then let it move on
    for folder in ("a", "b/deep"):
        assert invoke("new", "se", "-o", tmp_path / folder).exit_code == 0
    monkeypatch.setenv("PLUGFORGE_DATA_DIR", str(moved_on))
    (tmp_path / ".venv").mkdir()
    shutil.copy(tmp_path / "a" / "se.py", tmp_path / ".venv" / "se.py")  # never searched
    monkeypatch.chdir(tmp_path / "b")
    result = invoke("update", "--all")
    assert result.exit_code == 0, result.output
    assert result.output.count("updated (you had not edited it)") == 2  # the two se.py; their tests are unchanged
    assert "scale = x.mean((2, 3)" in (tmp_path / ".venv" / "se.py").read_text()


def test_a_lost_base_is_rendered_again_while_the_catalog_is_unchanged(rendered):
    provenance.base_path(rendered).unlink()
    add_method(rendered)
    assert invoke("diff", rendered).exit_code == 1
    assert invoke("update", rendered).exit_code == 0
    assert provenance.base_path(rendered).is_file()  # kept again for the next update


def test_a_lost_base_after_the_catalog_moved_is_a_clear_error(rendered, moved_on):
    provenance.base_path(rendered).unlink()
    before = rendered.read_bytes()
    result = invoke("update", rendered)
    assert result.exit_code == 1
    assert "pristine render is gone" in result.output and "restore" in result.output
    assert rendered.read_bytes() == before


@pytest.mark.parametrize("command", ["update", "diff"])
@pytest.mark.parametrize("moved", [False, True], ids=["catalog-unchanged", "catalog-moved"])
def test_a_hand_edited_header_is_an_error_that_says_what_changed(rendered, command, moved, request):
    if moved:
        request.getfixturevalue("moved_on")
    add_method(rendered)
    edit(rendered, '"reduction": 16', '"reduction": 8')
    before, base = rendered.read_bytes(), provenance.base_path(rendered).read_bytes()
    result = invoke(command, rendered)
    assert result.exit_code == 1
    assert "its header was edited (reduction 16 -> 8)" in result.output
    assert '"reduction": 16' in result.output and "plugforge new se --set reduction=8 --force" in result.output
    assert "<<<<<<<" not in rendered.read_text()
    assert rendered.read_bytes() == before and provenance.base_path(rendered).read_bytes() == base


def test_an_edited_hash_line_is_named(rendered):
    text = rendered.read_text()
    recorded = provenance.read(text).sha256
    rendered.write_text(text.replace(recorded, "0" * 64))
    result = invoke("update", rendered)
    assert result.exit_code == 1 and f"recorded sha256 {recorded} -> {'0' * 64}" in result.output


def test_an_edited_header_without_a_kept_base_is_an_error_too(rendered):
    provenance.base_path(rendered).unlink()
    edit(rendered, '"reduction": 16', '"reduction": 8')
    result = invoke("update", rendered)
    assert result.exit_code == 1 and "or the header's first line was edited" in result.output
    assert "<<<<<<<" not in rendered.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["update"], "give the files to update, or --all"),
        (["diff", "nope.py"], "nope.py does not exist"),
    ],
)
def test_usage_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code != 0 and message in result.output


def test_a_file_without_header_is_refused(tmp_path):
    plain = tmp_path / "mine.py"
    plain.write_text("import torch\n")
    result = invoke("diff", plain)
    assert result.exit_code == 1 and "has no plugforge header" in result.output


def test_add_keeps_a_base_and_remove_deletes_it(tmp_path, model):
    assert invoke("add", "se", "--into", model).exit_code == 0
    assert provenance.is_pristine((tmp_path / "blocks" / "se.py").read_text())
    assert (tmp_path / "blocks" / ".plugforge" / "se.py.base").is_file()
    assert invoke("remove", "se", "--from", model).exit_code == 0
    assert not (tmp_path / "blocks").exists()


@pytest.mark.parametrize("tests_dir", [None, "tests/blocks"])
def test_render_tests_in_the_project_config_renders_tests_that_pass(tmp_path, model, tests_dir):
    settings = "[tool.plugforge]\nrender-tests = true\n" + (f'tests-dir = "{tests_dir}"\n' if tests_dir else "")
    (tmp_path / "pyproject.toml").write_text(settings)
    result = invoke("add", "eca", "--into", model)
    assert result.exit_code == 0, result.output
    tests = tmp_path / (tests_dir or "blocks") / "test_eca.py"
    expected = "from .eca import EfficientChannelAttention" if not tests_dir else "from blocks.eca import"
    assert expected in tests.read_text() and provenance.is_pristine(tests.read_text())
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                         cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})  # fmt: skip
    assert run.returncode == 0, run.stdout[-1500:]


def test_without_pyproject_add_renders_no_tests(tmp_path, model):
    assert invoke("add", "eca", "--into", model).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "blocks").iterdir()) == [".plugforge", "__init__.py", "eca.py"]
    assert not (tmp_path / "pyproject.toml").exists()
