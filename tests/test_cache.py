import os
import shutil
import subprocess
import sys

from plugforge import resources
from plugforge.catalog.spec import find
from plugforge.rendering import cache
from plugforge.rendering.render import render

MODEL = """import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)

    def forward(self, x):
        return self.conv(x)
"""


def test_a_miss_renders_and_stores_a_hit_reads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGFORGE_CACHE_DIR", str(tmp_path))
    spec = find("cbam")
    fresh = render(spec, spec.defaults(), with_tests=False).block
    assert cache.default_block(spec) == fresh
    [stored] = (tmp_path / "renders").iterdir()
    assert stored.read_text() == fresh
    monkeypatch.setattr("plugforge.rendering.render.render", None)  # a hit is read, not re-rendered
    assert cache.default_block(spec) == fresh


def test_a_tampered_entry_is_rendered_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGFORGE_CACHE_DIR", str(tmp_path))
    spec = find("se")
    fresh = cache.default_block(spec)
    [stored] = (tmp_path / "renders").iterdir()
    other = render(find("eca"), find("eca").defaults(), with_tests=False).block
    for tampered in (
        fresh.replace("nn.ReLU(inplace=True)", "nn.Identity()"),  # body no longer matches the hash
        other,  # intact, but another entry's render
        fresh.replace('"reduction": 16', '"reduction": 8', 1),  # header of another configuration
        "# stale\n",
    ):
        stored.write_text(tampered)
        assert cache.default_block(spec) == fresh
        assert stored.read_text() == fresh  # and the entry is repaired


def test_an_edited_template_is_a_new_key(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    shutil.copytree(resources.templates_dir(), templates)
    monkeypatch.setattr(cache, "templates_dir", lambda: templates)
    spec = find("se")
    before = cache._key(spec)
    block = templates / "blocks" / spec.template
    block.write_text(block.read_text() + "\n# an upstream change\n")
    assert cache._key(spec) != before
    assert cache._key(find("eca")) == cache._key(find("eca"))


def test_an_unwritable_cache_still_renders(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PLUGFORGE_CACHE_DIR", str(blocker / "cache"))
    spec = find("se")
    assert cache.default_block(spec) == render(spec, spec.defaults(), with_tests=False).block


def test_a_repeated_add_imports_neither_jinja_nor_black(tmp_path):
    env = {**os.environ, "PLUGFORGE_CACHE_DIR": str(tmp_path / "cache")}
    probe = (
        "import sys\n"
        "from plugforge.cli import main\n"
        "main(['add', 'se', '--into', sys.argv[1]], standalone_mode=False)\n"
        "print(sorted(m for m in ('jinja2', 'black', 'torch') if m in sys.modules))\n"
    )
    runs = []
    for project in ("first", "second"):
        (tmp_path / project).mkdir()
        (tmp_path / project / "model.py").write_text(MODEL)
        result = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path / project / "model.py")], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        runs.append(result.stdout.strip())
    assert runs == ["['black', 'jinja2']", "[]"]
    first, second = ((tmp_path / p / "blocks" / "se.py").read_text() for p in ("first", "second"))
    assert first == second
