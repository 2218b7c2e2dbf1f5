"""The pinned third-party packages the real-world survey wires blocks into.

Each wheel is downloaded once with pip (no dependencies: pip never touches torch)
into the cache (``$PLUGFORGE_REALWORLD_CACHE``, default
``~/.cache/plugforge/realworld``), unpacked once into ``CACHE/unpacked/<name>-<version>/``
and byte-compiled there. Nothing of these packages is ever committed to this
repository (several are AGPL).
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Package:
    """A pinned wheel: what it puts on sys.path, what it imports, what else it needs."""

    name: str  # as on the package index
    version: str
    top_level: tuple[str, ...]  # the import packages copied into a site (not the wheel's own tests/)
    needs: tuple[str, ...] = ()  # other packages of this table it imports
    modules: tuple[tuple[str, str], ...] = ()  # (module, pip name) it imports from the test environment

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


_VISION = (("numpy", "numpy"), ("PIL", "pillow"))
_HUB = (("yaml", "pyyaml"), ("huggingface_hub", "huggingface_hub"), ("safetensors", "safetensors"))

PACKAGES = {
    "torchvision": Package("torchvision", "0.28.0", ("torchvision",), modules=_VISION),
    "timm": Package("timm", "1.0.31", ("timm",), ("torchvision",), _VISION + _HUB),
    "ultralytics": Package(
        "ultralytics", "8.3.253", ("ultralytics",), ("torchvision",),
        _VISION + (("yaml", "pyyaml"), ("cv2", "opencv-python-headless")),
    ),  # fmt: skip
    # Other Ultralytics releases, for the YOLO registration patch (tests/realworld/test_yolo.py): the oldest,
    # whose nn/modules is still one file, a mid 8.3 and the newest checked.
    **{
        f"ultralytics-{version}": Package(
            "ultralytics", version, ("ultralytics",), ("torchvision",),
            _VISION + (("yaml", "pyyaml"), ("cv2", "opencv-python-headless")),
        )  # fmt: skip
        for version in ("8.0.0", "8.3.150", "8.4.190")
    },
    "segmentation_models_pytorch": Package(
        "segmentation-models-pytorch", "0.5.0", ("segmentation_models_pytorch",), ("timm", "torchvision"),
        _VISION + _HUB + (("tqdm", "tqdm"),),
    ),  # fmt: skip
    "pytorchcv": Package("pytorchcv", "0.0.74", ("pytorchcv",), ("torchvision",), _VISION),
    "monai": Package("monai", "1.5.1", ("monai",), modules=(("numpy", "numpy"),)),
}


class Unavailable(Exception):
    """A package cannot be used here: not downloadable, or a module it imports is missing."""


def cache_dir() -> Path:
    return Path(os.environ.get("PLUGFORGE_REALWORLD_CACHE") or Path.home() / ".cache" / "plugforge" / "realworld")


def closure(keys: list[str] | tuple[str, ...]) -> list[str]:
    """The packages and every package they need, each once, needed ones first."""
    order: list[str] = []

    def visit(key: str) -> None:
        for need in PACKAGES[key].needs:
            visit(need)
        if key not in order:
            order.append(key)

    for key in keys:
        visit(key)
    return order


def check_modules(key: str) -> None:
    """Raise Unavailable when a module the package imports is not installed."""
    package = PACKAGES[key]
    for module, pip_name in package.modules:
        if importlib.util.find_spec(module) is None:
            raise Unavailable(f"{package.name} imports {module}: pip install {pip_name} (or -e '.[test,realworld]')")


def unpacked(key: str) -> Path:
    """The unpacked, byte-compiled wheel of the package, downloading it first if need be."""
    package = PACKAGES[key]
    target = cache_dir() / "unpacked" / f"{package.name}-{package.version}"
    if not target.is_dir():
        _unpack(_wheel(package), target)
    return target


def _wheel(package: Package) -> Path:
    wheels = cache_dir() / "wheels"
    found = _find_wheel(wheels, package)
    if found:
        return found
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(wheels), package.pin]
    done = subprocess.run(command, capture_output=True, text=True)
    found = _find_wheel(wheels, package)
    if done.returncode != 0 or not found:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["pip found no wheel"]
        raise Unavailable(f"cannot download {package.pin} from the package index: {lines[-1]}")
    return found


def _find_wheel(directory: Path, package: Package) -> Path | None:
    prefix = f"{package.name.replace('-', '_')}-{package.version}-".lower()
    wheels = sorted(directory.glob("*.whl")) if directory.is_dir() else []
    return next((wheel for wheel in wheels if wheel.name.lower().startswith(prefix)), None)


def _unpack(wheel: Path, target: Path) -> None:
    """Extract and byte-compile beside the target, then move it in place (atomic for concurrent runs)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(staging)
        compileall.compile_dir(staging, quiet=2, workers=0)
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
