"""Where the bundled catalog and templates live.

In a wheel they ship inside the package as ``plugforge/_data/``; in a source
checkout (editable install or tests run from the repository) they are the
top-level ``catalog/`` and ``templates/`` folders. ``$PLUGFORGE_DATA_DIR`` (a
folder holding both) overrides them: for catalog development and for tests that
need a catalog which has moved on.
"""

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    if override := os.environ.get("PLUGFORGE_DATA_DIR"):
        return Path(override) / name
    packaged = _PACKAGE / "_data" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name


def catalog_dir() -> Path:
    return data_dir("catalog")


def templates_dir() -> Path:
    return data_dir("templates")
