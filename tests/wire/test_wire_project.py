"""plugforge.project: configuration, import paths and all-or-nothing writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from plugforge.errors import PlugforgeError, ProjectError
from plugforge.project import Config, find_config, import_for, module_file, write_all


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_defaults_without_pyproject(tmp_path):
    model = touch(tmp_path / "src" / "model.py")
    config = find_config(model)
    assert config.blocks_dir == model.parent / "blocks" and config.style == "module"
    assert config.tests_dir is None and config.pyproject is None
    assert not (model.parent / "blocks").exists()


def test_config_from_the_nearest_pyproject_is_relative_to_it(tmp_path):
    touch(
        tmp_path / "pyproject.toml",
        '[tool.plugforge]\nblocks-dir = "lib/blocks"\ntests-dir = "tests/blocks"\nrender-tests = true\nstyle = "inline"\n',
    )
    model = touch(tmp_path / "src" / "nets" / "model.py")
    assert find_config(model) == Config(
        tmp_path / "lib" / "blocks", tmp_path / "tests" / "blocks", True, "inline", tmp_path / "pyproject.toml"
    )


def test_pyproject_without_table_gives_defaults(tmp_path):
    touch(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    model = touch(tmp_path / "model.py")
    assert find_config(model).blocks_dir == tmp_path / "blocks"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[tool.plugforge]\nblock-dir = "b"\n', "unknown key(s) block-dir"),
        ('[tool.plugforge]\nstyle = "vendored"\n', 'use "module" or "inline"'),
        ('[tool.plugforge]\nrender-tests = "yes"\n', "render-tests .* must be true or false"),
        ("[tool.plugforge]\nblocks-dir = 3\n", "must be a non-empty path string"),
        ("[tool.plugforge\n", "fix the TOML syntax"),
    ],
)
def test_config_errors(tmp_path, toml, message):
    touch(tmp_path / "pyproject.toml", toml)
    with pytest.raises(ProjectError, match=message.replace("(", r"\(").replace(")", r"\)")):
        find_config(touch(tmp_path / "model.py"))


@pytest.mark.parametrize("key", ["tests-dir", "blocks-dir"])
@pytest.mark.parametrize("value", ["../escaped", "tests/../../escaped", "/tmp/plugforge-escaped"])
def test_every_configured_path_stays_inside_the_project(tmp_path, key, value):
    touch(tmp_path / "proj" / "pyproject.toml", f'[tool.plugforge]\n{key} = "{value}"\nrender-tests = true\n')
    model = touch(tmp_path / "proj" / "model.py")
    with pytest.raises(ProjectError, match=f"{key} = '{value}' .* points outside the project"):
        find_config(model)


def test_a_configured_path_through_a_link_out_of_the_project_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    touch(tmp_path / "proj" / "pyproject.toml", '[tool.plugforge]\ntests-dir = "link/tests"\n')
    (tmp_path / "proj" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ProjectError, match="points outside the project"):
        find_config(touch(tmp_path / "proj" / "model.py"))


def test_add_with_an_escaping_tests_dir_writes_nothing(tmp_path, model):
    from tests.conftest import invoke

    (tmp_path / "pyproject.toml").write_text('[tool.plugforge]\nrender-tests = true\ntests-dir = "../escaped"\n')
    before = model.read_bytes()
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and "points outside the project" in result.output
    assert model.read_bytes() == before and not (tmp_path.parent / "escaped").exists()
    assert not (tmp_path / "blocks").exists()


def test_import_beside_a_script_is_absolute(tmp_path):
    model = touch(tmp_path / "model.py")
    spec = import_for(model, tmp_path / "blocks" / "sk.py")
    assert spec == ("blocks.sk", 0, [tmp_path / "blocks" / "__init__.py"])


def test_import_inside_a_package_is_relative(tmp_path):
    touch(tmp_path / "pkg" / "__init__.py")
    touch(tmp_path / "pkg" / "nets" / "__init__.py")
    model = touch(tmp_path / "pkg" / "nets" / "model.py")
    assert import_for(model, tmp_path / "pkg" / "nets" / "blocks" / "sk.py") == (
        "blocks.sk",
        1,
        [tmp_path / "pkg" / "nets" / "blocks" / "__init__.py"],
    )
    touch(tmp_path / "pkg" / "blocks" / "__init__.py")
    assert import_for(model, tmp_path / "pkg" / "blocks" / "sk.py") == ("blocks.sk", 2, [])
    assert import_for(model, tmp_path / "blocks" / "sk.py") == ("blocks.sk", 0, [tmp_path / "blocks" / "__init__.py"])


@pytest.mark.parametrize("package", [False, True])
def test_module_file_inverts_import_for(tmp_path, package):
    if package:
        touch(tmp_path / "pkg" / "__init__.py")
        touch(tmp_path / "pkg" / "nets" / "__init__.py")
    model = touch(tmp_path / "pkg" / "nets" / "model.py")
    blocks = [tmp_path / "pkg" / "nets" / "blocks" / "sk.py"]
    blocks += [tmp_path / "pkg" / "lib" / "se.py", tmp_path / "lib" / "cbam.py"] if package else []
    for block in blocks:
        spec = import_for(model, block)
        assert module_file(model, "." * spec.level + spec.module) == block


def test_import_from_outside_the_model_tree_is_refused(tmp_path):
    model = touch(tmp_path / "app" / "model.py")
    with pytest.raises(ProjectError, match="set blocks-dir under .* or use --inline"):
        import_for(model, tmp_path / "elsewhere" / "sk.py")
    with pytest.raises(ProjectError, match="my-blocks is not a valid module name"):
        import_for(model, tmp_path / "app" / "my-blocks" / "sk.py")


def test_write_all_writes_exact_bytes_and_keeps_permissions(tmp_path):
    model = touch(tmp_path / "model.py", "old\n")
    os.chmod(model, 0o640)
    new_block = tmp_path / "blocks" / "sk.py"
    summary = write_all({model: "\ufeffa = 1\r\nb = 2\r\n", new_block: "x = 1\n"}, dry_run=False)
    assert model.read_bytes() == b"\xef\xbb\xbfa = 1\r\nb = 2\r\n"
    assert stat.S_IMODE(model.stat().st_mode) == 0o640
    assert new_block.read_text() == "x = 1\n" and "wrote blocks/sk.py" in summary.replace(str(tmp_path) + "/", "")
    assert not [path for path in tmp_path.rglob("*.tmp")]


def test_write_all_deletes_and_skips_unchanged(tmp_path):
    keep = touch(tmp_path / "keep.py", "same\n")
    gone = touch(tmp_path / "gone.py", "x\n")
    before = keep.stat().st_mtime_ns
    summary = write_all({keep: "same\n", gone: None, tmp_path / "never.py": None}, dry_run=False)
    assert not gone.exists() and keep.stat().st_mtime_ns == before
    assert summary.count("\n") == 1 and "deleted" in summary


def test_dry_run_prints_a_git_style_diff_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = touch(tmp_path / "model.py", "a\r\nb\r\n")
    gone = touch(tmp_path / "old.py", "x")
    diff = write_all({model: "a\r\nB\r\n", tmp_path / "blocks" / "sk.py": "s\n", gone: None}, dry_run=True)
    assert "diff --git a/model.py b/model.py\n--- a/model.py\n+++ b/model.py\n" in diff
    assert "-b\r\n+B\r\n" in diff
    assert "--- /dev/null\n+++ b/blocks/sk.py\n" in diff
    assert "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n\\ No newline at end of file\n" in diff
    assert model.read_bytes() == b"a\r\nb\r\n" and gone.exists() and not (tmp_path / "blocks").exists()


def test_a_failed_write_changes_nothing(tmp_path):
    model = touch(tmp_path / "model.py", "old\n")
    blocker = touch(tmp_path / "blocks", "a file where a directory should be")
    with pytest.raises(PlugforgeError, match="blocks is a file, not a folder"):
        write_all({model: "new\n", tmp_path / "new" / "dir" / "x.py": "x\n", blocker / "sk.py": "s\n"}, dry_run=False)
    assert model.read_text() == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blocks", "model.py"]


SHADOWED = {
    "blocks.py beside the model": ("blocks.py", None, "blocks.py would be hidden by the package blocks/"),
    "model named blocks.py": ("blocks.py", None, "blocks.py would be hidden"),
    "stdlib name": (None, "json", "hides the standard library's module json"),
    "installed name": (None, "click", "hides the installed module click"),
    "nested folder over a module": ("lib.py", "lib/blocks", "lib.py would be hidden by the package lib/"),
    "user's own se.py": ("blocks/se.py", None, "blocks/se.py exists and is not plugforge's render of se"),
}


@pytest.mark.parametrize("case", SHADOWED, ids=list(SHADOWED))
def test_a_blocks_folder_that_would_hide_or_clash_with_a_module_is_refused(tmp_path, monkeypatch, case):
    from tests.conftest import EXAMPLE, invoke

    existing, blocks_dir, message = SHADOWED[case]
    monkeypatch.chdir(tmp_path)
    model = tmp_path / ("blocks.py" if case == "model named blocks.py" else "model.py")
    model.write_text(EXAMPLE.read_text())
    if existing and not (tmp_path / existing).exists():
        touch(tmp_path / existing, "def helper():\n    return 1\n")
    if blocks_dir:
        touch(tmp_path / "pyproject.toml", f'[tool.plugforge]\nblocks-dir = "{blocks_dir}"\n')
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = invoke("add", "se", "--into", model)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "blocks-dir" in result.output and "--inline" in result.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_package_of_the_users_own_is_used_as_it_is(tmp_path, monkeypatch):
    from tests.conftest import EXAMPLE, invoke

    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "blocks" / "__init__.py", "from .mine import helper\n")
    touch(tmp_path / "blocks" / "mine.py", "def helper():\n    return 1\n")
    (tmp_path / "model.py").write_text(EXAMPLE.read_text())
    result = invoke("add", "se", "--into", tmp_path / "model.py")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "blocks" / "se.py").is_file() and (tmp_path / "blocks" / "mine.py").is_file()


def test_dry_run_says_new_empty_file_and_deleted_empty_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    init = tmp_path / "blocks" / "__init__.py"
    assert write_all({init: ""}, dry_run=True) == (
        "diff --git a/blocks/__init__.py b/blocks/__init__.py\nnew empty file blocks/__init__.py\n"
    )
    touch(init, "")
    assert "deleted empty file blocks/__init__.py" in write_all({init: None}, dry_run=True)
    assert init.is_file()
