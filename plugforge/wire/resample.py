"""``--replace`` with a block that changes the map size: the replaced layer must change it alike.

A downsampler (``Block.resample = ("down", factor)``) replaces a strided conv or pool,
an upsampler (``("up", factor)``) an ``nn.Upsample`` or ``nn.ConvTranspose2d``, by
the same factor: the layer's stride or scale factor goes to the block's factor
parameter, or, where the block's factor is fixed (HWD halves), must equal it; a
downsampler's fixed factor is then a rule ``stride == factor`` on the layer, which
``--build`` checks at run time where the source does not tell the stride.
"""

from __future__ import annotations

import libcst as cst

from .datatypes import Block
from .errors import WireError
from .nodes import code
from .rules import holds, value_of

# The argument that holds each replaceable layer's factor, by direction.
DOWN = {"Conv2d": "stride", "MaxPool2d": "stride", "AvgPool2d": "stride"}
UP = {"ConvTranspose2d": "stride", "Upsample": "scale_factor"}
# Arguments that shape the replaced layer's own resampling: an upsampler, or a downsampler without a
# kernel of its own, resamples its own way (a conv-like downsampler maps the kernel and its padding).
OWN_WAY = ("kernel_size", "padding", "output_padding", "mode", "align_corners", "recompute_scale_factor")


def fit(anchor: str, kind: str, arguments: dict, block: Block) -> tuple[dict, dict, list[str]]:
    """``(arguments for the block, layer-only values its rules read, notes)``; refuse a layer resampling otherwise."""
    if not block.resample:
        if kind in UP:
            raise WireError(
                f"{block.class_name} keeps the map size, but {anchor} (nn.{kind}) upsamples it; "
                f"choose an upsampler (`plugforge list`, category upsampling)"
            )
        return arguments, {}, []
    direction, factor = block.resample
    layer_direction = "up" if kind in UP else "down"
    verb = "upsamples" if direction == "up" else "downsamples"
    if layer_direction != direction:
        wanted = "an nn.Upsample or nn.ConvTranspose2d" if direction == "up" else "a strided conv or pooling layer"
        raise WireError(f"{block.class_name} {verb} the map, but {anchor} is an nn.{kind}; --replace {wanted}")
    name = (UP if direction == "up" else DOWN)[kind]
    if kind == "Upsample" and "scale_factor" not in arguments:
        raise WireError(f"{anchor} resizes to a fixed size, not by a factor; {block.class_name} {verb} by {factor}")
    arguments = dict(arguments)
    given = arguments.pop(name, cst.Integer("1"))
    if holds(f"{name} == 1", {name: value_of(code(given), name)}):
        raise WireError(
            f"{block.class_name} {verb} the map by {factor}, but {anchor} keeps its size ({name}={code(given)}); "
            f"--replace a layer that {verb} it, or choose a block that keeps the size"
        )
    notes = []
    if direction == "up" or "kernel_size" not in block.params:  # a kernel that is part of the layer's resampling
        notes = [f"dropped {key}={code(arguments.pop(key))}: {block.class_name} {verb} its own way"
                 for key in OWN_WAY if key in arguments]  # fmt: skip
    if factor in block.params:
        return {**arguments, factor: given}, {}, notes
    same = holds(f"{name} == {factor}", {name: value_of(code(given), name)})
    if same is False or same is None and direction == "up":
        raise WireError(
            f"{block.class_name} {verb} the map by {factor}, but {anchor} by {name}={code(given)}; "
            f"--replace a layer that {verb} it by {factor}"
        )
    if same:
        return arguments, {}, [*notes, f"{name}={code(given)} is {block.class_name}'s own factor"]
    return arguments, {name: given}, notes  # the block's rule `stride == factor` decides, at run time if need be
