"""Listing the anchors of a class, and the error messages that show them."""

from __future__ import annotations

import libcst as cst

from .analysis import ClassAnalysis
from .channels import output_channels
from .datatypes import Anchor
from .errors import WireError
from .nodes import BUILTINS, callee, code
from .sequential import locate, paths


def list_anchors(analysis: ClassAnalysis) -> list[Anchor]:
    """Attributes built by a call or called in forward, then the elements of Sequential literals."""
    found = []
    for name, assignment in analysis.model.assignments.items():
        uses = analysis.model.uses_of(name)
        if not uses.calls and (not isinstance(assignment.value, cst.Call) or callee(assignment.value) in BUILTINS):
            continue  # a number or a name, not a layer
        channels = output_channels(analysis.layer(name))
        found.append(Anchor(name, code(assignment.value), code(channels) if channels else None, uses.describe()))
        for path, element in paths(name, assignment.value):
            channels = _element_channels(analysis, path)
            found.append(Anchor(path, code(element), channels, "inside Sequential"))
    return found


def _element_channels(analysis: ClassAnalysis, path: str) -> str | None:
    try:
        channels = locate(analysis, path).channels_out
    except WireError:
        return None
    return code(channels) if channels is not None else None


def describe(anchors: list[Anchor]) -> str:
    """One anchor a line: name, constructor, channels and use."""
    if not anchors:
        return "  (none: the class assigns no layers in __init__)"
    lines = []
    for anchor in anchors:
        channels = f"channels {anchor.channels}" if anchor.channels else "channels unknown"
        constructor = " ".join(anchor.constructor.split())
        constructor = constructor if len(constructor) <= 70 else constructor[:67] + "..."
        lines.append(f"  {anchor.name}: {constructor}  [{channels}; {anchor.uses}]")
    return "\n".join(lines)


def workable(anchors: list[Anchor]) -> list[str]:
    """Names that can be wired next to: called in forward, or inside a Sequential literal."""
    return [anchor.name for anchor in anchors if anchor.uses.startswith("called") or "." in anchor.name]
