import sys

import pytest


@pytest.fixture
def isolated_imports():
    """Forget modules and sys.path entries added by a test that imports generated models.

    torch is imported first so that it stays loaded (it cannot be imported twice).
    """
    torch = pytest.importorskip("torch")
    modules, path = set(sys.modules), list(sys.path)
    yield torch
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path
