"""``Placement.replace`` with a block that changes the map size: the replaced layer must change it alike.

A block that divides the map (``Block.resample = ("down", factor)``: a strided conv-like
block, a downsampler) replaces a conv or pool, an upsampler (``("up", factor)``) an
``nn.Upsample`` or ``nn.ConvTranspose2d``, by the same factor: the layer's stride or
scale factor goes to the block's factor parameter, or, where the block's factor is
fixed (HWD halves), must equal it; a
downsampler's fixed factor is then a rule ``stride == factor`` on the layer, which
the caller may check at run time where the source does not tell the stride.
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
# Arguments that shape the replaced layer's own resampling: an upsampler, or a downsampler with a fixed
# factor, resamples its own way (a block taking the stride maps the kernel and its padding as a conv).
OWN_WAY = ("kernel_size", "padding", "output_padding", "mode", "align_corners", "recompute_scale_factor")


def fit(anchor: str, kind: str, arguments: dict, block: Block) -> tuple[dict, dict, list[str]]:
    """``(arguments for the block, layer-only values its rules read, notes)``; refuse a layer resampling otherwise."""
    direction, factor = block.resample or ("", "")
    if kind in UP and direction != "up":
        raise WireError(
            f"{block.class_name} does not upsample, but {anchor} (nn.{kind}) upsamples the map; "
            f"choose an upsampler (`⟨list⟩`, category upsampling), or ⟨replace⟩ a conv or pooling layer"
        )
    if not direction:
        return arguments, {}, []
    verb = "upsamples" if direction == "up" else "downsamples"
    if kind not in UP and direction == "up":
        raise WireError(
            f"{block.class_name} upsamples the map, but {anchor} is an nn.{kind}; "
            f"⟨replace⟩ an nn.Upsample or nn.ConvTranspose2d"
        )
    name = (UP if direction == "up" else DOWN)[kind]
    if kind == "Upsample" and "scale_factor" not in arguments:
        raise WireError(f"{anchor} resizes to a fixed size, not by a factor; {block.class_name} {verb} by {factor}")
    arguments = dict(arguments)
    written = name in arguments
    given = _whole(arguments.pop(name, cst.Integer("1")), block, anchor)
    notes = []
    if direction == "up" or factor not in block.params:  # the layer's kernel is part of its own resampling
        notes = [f"dropped {key}={code(arguments.pop(key))}: {block.class_name} {verb} its own way"
                 for key in OWN_WAY if key in arguments]  # fmt: skip
    if factor in block.params:  # the layer's factor is the block's, unless both leave it at the same default
        same_default = not written and block.settings.get(factor) == code(given)
        return arguments if same_default else {**arguments, factor: given}, {}, notes
    same = holds(f"{name} == {factor}", {name: value_of(code(given), name)})
    if same is False or same is None and direction == "up":
        raise WireError(
            f"{block.class_name} {verb} the map by {factor}, but {anchor} by {name}={code(given)}; "
            f"⟨replace⟩ a layer that {verb} it by {factor}"
        )
    if same:
        return arguments, {}, [*notes, f"{name}={code(given)} is {block.class_name}'s own factor"]
    return arguments, {name: given}, notes  # the block's rule `stride == factor` decides, at run time if need be


def _whole(factor: cst.BaseExpression, block: Block, anchor: str) -> cst.BaseExpression:
    """A literal factor as an int (``scale_factor=2.0`` gives 2); a fractional one is refused."""
    value = value_of(code(factor), "factor")
    if isinstance(value, (tuple, list)) and len(set(value)) == 1:
        value = value[0]  # scale_factor=(2.0, 2.0)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return factor
    if value != int(value):
        raise WireError(f"{anchor} resamples by {code(factor)}, but {block.class_name} takes a whole factor; "
                        f"choose a layer with a whole factor")
    return cst.Integer(str(int(value)))
