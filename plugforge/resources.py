"""Where the bundled catalog and templates live.

In a wheel they ship inside the package as ``plugforge/_data/``; in a source
checkout (editable install or tests run from the repository) they are the
top-level ``catalog/`` and ``templates/`` folders.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    packaged = _PACKAGE / "_data" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name


def catalog_dir() -> Path:
    return data_dir("catalog")


def templates_dir() -> Path:
    return data_dir("templates")
