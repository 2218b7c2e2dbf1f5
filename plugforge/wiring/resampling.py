"""`add` of a block that changes the map size (its entry's [output] stride or scale).

``--replace`` checks the factor against the replaced layer (``plugforge.wire.resample``);
inserted with ``--after``/``--before``, such a block changes the size of every map
after it, so add places it only where it can run the model (``--check``, or
``--build`` with ``--input``) and puts every file back if the model then fails.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from plugforge import wire
from plugforge.catalog.spec import BlockSpec
from plugforge.errors import PlugforgeError


def factor_rule(spec: BlockSpec) -> tuple[tuple[str, str], ...]:
    """A downsampler with a fixed factor (HWD halves) replaces only a layer with that stride."""
    direction, factor = spec.resample or ("", "")
    if direction != "down" or factor in spec.params:
        return ()
    return ((f"stride == {factor}", f"it divides the map by {factor}, so the replaced layer must too"),)


def changes_size(spec: BlockSpec, values: dict[str, Any]) -> bool:
    """Whether the block, with these values, divides or multiplies H and W."""
    direction, factor = spec.resample or ("", "1")
    return values.get(factor, factor) not in (1, "1", (1, 1), [1, 1])


def inserted(spec: BlockSpec, values: dict[str, Any], block: wire.Block, input_given: bool) -> wire.Block:
    """The block to insert after or before a layer, keeping the width: only where add runs the model."""
    direction, factor = spec.resample
    by = f"{values[factor]} ({factor})" if factor in values else factor
    changes = f"{'divides' if direction == 'down' else 'multiplies'} H and W by {by}"
    if not input_given:
        raise PlugforgeError(
            f"{spec.id} {changes}, so every map after it changes size, which may break the model; to insert it, "
            f"give the model and its input (--check EXPR --input SHAPE, or --build EXPR --input SHAPE) so that add "
            f"runs it, or --replace a layer that changes the size by the same factor"
        )
    same = tuple(name for name in ("out_channels",) if name in spec.params)
    return dataclasses.replace(block, role="insert", same_channels=same, rules=())


def runs(model: Path, build: str, shapes: tuple[tuple[int, ...], ...], spec: BlockSpec, values: dict[str, Any]) -> str:
    """``--build EXPR --input SHAPE`` after inserting a resampler: refuse it where the model no longer runs."""
    from plugforge.measure import checking

    try:
        checking.runs(model, build, shapes)
    except PlugforgeError as error:
        raise PlugforgeError(
            f"--build: {spec.id} changes the map size and {build} no longer runs at that input, so every file was put "
            f"back as it was; place it where the layers after it take the new size, or --replace a layer that "
            f"resamples alike.\n{error}"
        ) from None
    return ""
