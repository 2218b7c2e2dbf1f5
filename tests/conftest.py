import os
import subprocess
import sys

import pytest

from plugforge.catalog import load_catalog


@pytest.fixture(scope="session", autouse=True)
def private_render_cache(tmp_path_factory):
    """Keep the render cache of every test (and CLI subprocess) out of ~/.cache."""
    os.environ["PLUGFORGE_CACHE_DIR"] = str(tmp_path_factory.mktemp("render-cache"))


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


def run_cli(*args, cwd=None, env=None):
    """Run the installed CLI in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "plugforge", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
