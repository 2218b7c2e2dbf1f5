import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugforge.catalog.spec import load_catalog
from plugforge.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "model.py"


@pytest.fixture(scope="session", autouse=True)
def private_render_cache(tmp_path_factory):
    """Keep the render cache of every test (and CLI subprocess) out of ~/.cache."""
    os.environ["PLUGFORGE_CACHE_DIR"] = str(tmp_path_factory.mktemp("render-cache"))


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture
def model(tmp_path):
    """A copy of the bundled example model (a ResNet bottleneck) to rewrite."""
    shutil.copy(EXAMPLE, tmp_path / "model.py")
    return tmp_path / "model.py"


def invoke(*args):
    """Run the CLI in-process, arguments as strings."""
    return CliRunner().invoke(main, [str(a) for a in args])


def run_cli(*args, cwd=None, env=None):
    """Run the installed CLI in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "plugforge", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
