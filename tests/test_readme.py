"""The README's commands work in the order written."""

import re
import shlex
import subprocess
from pathlib import Path

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_plugforge_new_commands():
    """`plugforge new` of the set-up command, then every `$ plugforge new` of the README, in order."""
    found = []
    for match in re.finditer(r"(?:&& |\$ )(plugforge new [^\n&]+)", README):
        found.append(shlex.split(match.group(1))[1:])
    return found


def test_the_set_up_render_and_the_next_commands_work_in_order(tmp_path):
    commands = readme_plugforge_new_commands()
    assert commands[0][:2] == ["new", "se"] and ["new", "sk", "-o", "blocks/", "--set", "kernels=3,5,7"] in commands
    for args in commands:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, f"plugforge {' '.join(args)}:\n{result.stderr}"
    assert (tmp_path / "blocks" / "test_sk.py").is_file()


def test_the_rendered_blocks_at_the_root_are_ignored_by_git():
    if not (ROOT / ".git").exists():
        assert "/blocks/" in (ROOT / ".gitignore").read_text().splitlines()
        return
    ignored = subprocess.run(["git", "check-ignore", "-q", "blocks/se.py"], cwd=ROOT)
    assert ignored.returncode == 0
    kept = subprocess.run(["git", "check-ignore", "-q", "examples/blocks/se.py"], cwd=ROOT)
    assert kept.returncode == 1  # only the root's: a user's own blocks/ folders elsewhere are not hidden
