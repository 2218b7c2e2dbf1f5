"""A cache of default renders, so `add` need not import Jinja and black.

`add` vendors every block with its catalog defaults, so the same entry always
renders to the same text. That text is stored under the user cache directory,
keyed by a hash of everything the render reads: the plugforge version, the
renderer's own source, the entry file and the templates it uses. A change to
any of them is a new key; a cache that cannot be written is simply skipped. An
entry is used only when its header names the entry's default render and its
body matches the hash the header records; otherwise it is rendered again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from plugforge import __version__
from plugforge.catalog.spec import BlockSpec
from plugforge.rendering import provenance
from plugforge.resources import templates_dir

_PACKAGE = Path(__file__).resolve().parents[1]
_RENDERER = [_PACKAGE / name for name in ("rendering/render.py", "catalog/spec.py", "rendering/provenance.py")]  # shape a render


def cache_dir() -> Path:
    """``$PLUGFORGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/plugforge``, else ``~/.cache/plugforge``."""
    if explicit := os.environ.get("PLUGFORGE_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "plugforge"


def default_block(spec: BlockSpec) -> str:
    """The block file rendered with the entry's defaults, from the cache when possible."""
    path = cache_dir() / "renders" / f"{spec.id}-{_key(spec)}.py"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None and _intact(text, spec):
        return text
    from plugforge.rendering.render import render  # imports Jinja and black: only on a miss

    text = render(spec, spec.defaults(), with_tests=False).block
    _store(path, text)
    return text


def _intact(text: str, spec: BlockSpec) -> bool:
    """Whether a cached render is this entry's default render with its body matching the recorded hash.

    Anything else (an edited, truncated or swapped entry) is rendered again and overwritten.
    """
    first = provenance.first_line(__version__, spec.id, spec.defaults())
    return text.startswith(first + "\n") and provenance.is_pristine(text)


def _key(spec: BlockSpec) -> str:
    templates = templates_dir()
    inputs = [spec.path, templates / "blocks" / spec.template, *_RENDERER]
    inputs += [templates / "helpers" / f"{name}.py.j2" for name in spec.helpers]
    digest = hashlib.sha256(__version__.encode())
    for path in inputs:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _store(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False) as handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only home or a full disk: render again next time
