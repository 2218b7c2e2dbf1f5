"""Input shapes as the user types them (``2,64,56,56``): read without torch, used by the CLI and by measuring."""

from __future__ import annotations

from plugforge.errors import MeasureError


def parse_shape(text: str) -> tuple[int, ...]:
    """``"2,64,56,56"`` or ``"2x64x56x56"`` as a tuple of positive ints; a clear ValueError otherwise."""
    cleaned = text.strip().strip("()[]").replace("x", ",").replace("X", ",").replace("×", ",")
    parts = [part.strip() for part in cleaned.split(",")]
    if parts and parts[-1] == "":
        parts.pop()  # "2,64," or "(2,)"
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise MeasureError(f"{text!r} is not a shape; give positive sizes separated by commas or x, e.g. 2,64,56,56")
    return shape
