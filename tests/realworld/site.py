"""A throwaway site: copies of the real packages that one case may rewrite, and importing from it."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.realworld.packages import PACKAGES, check_modules, closure, unpacked

# torchvision's wheel is a CUDA build: with an empty stand-in for the module that
# registers its compiled ops' meta kernels, its pure-Python parts import on CPU torch
# (benchmarks/references.py, import_references, explains it).
SHIM = "torchvision._meta_registrations"


class Site:
    """``root`` holds a copy of each package (and the packages it needs) with its metadata.

    Files are hard links into the cache where the file system allows; the file a
    case rewrites is first given a private copy (``own``), so no write reaches the cache.
    """

    def __init__(self, root: Path, keys: list[str] | tuple[str, ...]):
        self.root = root
        self.config_dir = root / ".config"  # Ultralytics' settings
        self.keys = closure(keys)
        for key in self.keys:  # every package checked before any is copied: a refused site leaves no half copy
            check_modules(key)
        for key in self.keys:
            _copy_package(key, root)
        self.top_level = {name for key in self.keys for name in PACKAGES[key].top_level}

    def own(self, file: str) -> Path:
        """The site's file at ``file`` (a path inside the site), as a private copy."""
        path = self.root / file
        private = path.with_name(path.name + ".own")
        shutil.copyfile(path, private)
        os.replace(private, path)
        return path

    @contextmanager
    def imports(self) -> Iterator[None]:
        """Import these packages from the site, offline; afterwards sys.modules, sys.path and the environment are as before.

        Modules of these packages imported before (from site-packages) are hidden meanwhile and then put back.
        """
        offline = _offline_env(self.config_dir)
        saved_env = {name: os.environ.get(name) for name in offline}
        saved_path = list(sys.path)
        hidden = {name: module for name, module in sys.modules.items() if self._ours(name)}
        for name in hidden:
            del sys.modules[name]
        os.environ.update(offline)
        sys.path.insert(0, str(self.root))
        sys.modules[SHIM] = types.ModuleType(SHIM)
        importlib.invalidate_caches()
        try:
            with _torchscript_overloads_kept(self.top_level):
                yield
        finally:
            for name in [name for name in sys.modules if self._ours(name)]:
                del sys.modules[name]
            sys.modules.update(hidden)
            sys.path[:] = saved_path
            _restore(saved_env)

    def _ours(self, module: str) -> bool:
        return module.partition(".")[0] in self.top_level


def _offline_env(config_dir: Path) -> dict[str, str]:
    """Ultralytics and the Hugging Face hub: no downloads, no installs, settings kept in the test's folder."""
    return {
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "false",
        "YOLO_CONFIG_DIR": str(config_dir),
        "HF_HUB_OFFLINE": "1",
    }


@contextmanager
def _torchscript_overloads_kept(top_level: set[str]) -> Iterator[None]:
    """Hide the site packages' TorchScript overloads recorded before, and forget those registered meanwhile.

    torch records each ``@torch.jit._overload_method`` by module, class and line
    (torchvision's densenet has some): importing a rewritten copy of the module
    again, with its lines moved, would clash with the record of the first copy, be
    it another site's or the installed package's (the reference parity test imports it).
    """
    from torch import _jit_internal as jit

    methods = {name: {cls: list(fns) for cls, fns in by_class.items()} for name, by_class in jit._overloaded_methods.items()}
    lines = dict(jit._overloaded_method_class_fileno)
    prefixes = tuple(f"__torch__.{package}." for package in top_level)
    for name in [name for name in jit._overloaded_methods if name.startswith(prefixes)]:
        del jit._overloaded_methods[name]
    for key in [key for key in jit._overloaded_method_class_fileno if key[0].startswith(prefixes)]:
        del jit._overloaded_method_class_fileno[key]
    try:
        yield
    finally:
        jit._overloaded_methods.clear()
        jit._overloaded_methods.update(methods)
        jit._overloaded_method_class_fileno.clear()
        jit._overloaded_method_class_fileno.update(lines)


def _restore(env: dict[str, str | None]) -> None:
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _copy_package(key: str, root: Path) -> None:
    source = unpacked(key)
    names = [*PACKAGES[key].top_level, *(p.name for p in source.glob("*.dist-info"))]
    for name in names:
        shutil.copytree(source / name, root / name, copy_function=_link, dirs_exist_ok=True)


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
