"""Channels measured at run time, for `add` where the source alone cannot tell them.

Imports torch, and the user's model file in its package context (as `check` does).
The class is built (from ``--build EXPR``, or with its own defaults), the locals of
``__init__`` are recorded at the moment it assigns the anchor, and the anchor's real
width is read from the built layer (or from a forward pass at ``--input``). The
channel expression is the name in scope there whose value is that width.
"""

from __future__ import annotations

import inspect
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from plugforge.errors import CheckError
from plugforge.measure.checking import Version, build_model, imported

WIDTH_ATTRIBUTES = ("out_channels", "num_features", "out_features", "num_channels")


@dataclass
class _Scene:
    """What ``__init__`` of the first instance of the class saw when it assigned the anchor."""

    instance: nn.Module
    names: dict[str, int] = field(default_factory=dict)


def measured_channels(
    model: Path, class_name: str, anchor: str, constructor: str, build: str | None, shapes: tuple[tuple[int, ...], ...]
) -> tuple[str, str, int]:
    """``(expression, note, width)`` for the width after ``self.<anchor>``, measured by building the model."""
    expr, measured = _measure(model, class_name, {anchor: constructor}, build, shapes)
    name, width = measured[anchor]
    if isinstance(name, CheckError):
        raise name
    note = f"channels: {name}, measured at run time: in {expr}, {anchor} gives {width} channels and {name} = {width}"
    return name, note, width


def measured_anchors(
    model: Path, class_name: str, constructors: dict[str, str], build: str | None, shapes: tuple[tuple[int, ...], ...]
) -> dict[str, str]:
    """For ``anchors --build``: each anchor's measured expression, from one build (``add`` says why where none)."""
    _, measured = _measure(model, class_name, constructors, build, shapes)
    return {anchor: f"{name} (measured)" for anchor, (name, _) in measured.items() if isinstance(name, str)}


def _measure(model: Path, class_name: str, constructors: dict[str, str], build: str | None, shapes):
    """``(build expression, {anchor: (name or the error saying why not, width)})``."""
    with imported(Version(model, model.name)) as (module, where):
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise CheckError(f"{model.name} defines no nn.Module {class_name} at import time")
        expr = build or _default_build(cls)
        with _watching(cls, set(constructors)) as scenes:
            built = build_model(module, expr, where)
        found = {}
        for anchor, constructor in constructors.items():
            scene = scenes.get(anchor)
            if scene is None:
                found[anchor] = (CheckError(f"building {expr} made no {class_name} that assigns self.{anchor}"), None)
                continue
            try:
                width = _width(getattr(scene.instance, anchor), built, shapes)
                found[anchor] = (_choose(scene.names, width, constructor, class_name, anchor), width)
            except CheckError as error:
                found[anchor] = (error, None)
    return expr, found


LAYER_ARGUMENTS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")


def measured_layers(model: Path, class_name: str, anchor: str, build: str) -> list[dict[str, object]]:
    """The arguments (``LAYER_ARGUMENTS`` it has) of ``self.<anchor>`` in every ``class_name`` that ``build`` makes."""
    with imported(Version(model, model.name)) as (module, where):
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise CheckError(f"{model.name} defines no nn.Module {class_name} at import time")
        built = build_model(module, build, where)
        layers = [getattr(m, anchor, None) for m in built.modules() if isinstance(m, cls)]
    if not layers:
        raise CheckError(f"building {build} made no {class_name}")
    return [{name: getattr(layer, name) for name in LAYER_ARGUMENTS if hasattr(layer, name)} for layer in layers]


def _default_build(cls: type) -> str:
    required = [
        p.name
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise CheckError(
            f"{cls.__name__}({', '.join(required)}, ...) needs arguments to be built; measure its channels with "
            f"--build '{cls.__name__}(...)' (e.g. --build '{cls.__name__}({', '.join('64' for _ in required)})'), "
            f"or pass --channels EXPR"
        )
    return f"{cls.__name__}()"


@contextmanager
def _watching(cls: type, anchors: set[str]):
    """For each anchor, the caller's int locals (and int attributes) when the first ``cls`` assigns it."""
    scenes: dict[str, _Scene] = {}
    own = cls.__dict__.get("__setattr__")
    inherited = cls.__setattr__

    def spy(self, name, value):
        if name in anchors and name not in scenes and type(self) is cls:
            caller = sys._getframe(1).f_locals
            names = {key: v for key, v in caller.items() if key != "self" and type(v) is int}
            names |= {f"self.{key}": v for key, v in vars(self).items() if type(v) is int}
            scenes[name] = _Scene(self, names)
        inherited(self, name, value)

    cls.__setattr__ = spy
    try:
        yield scenes
    finally:
        if own is None:
            del cls.__setattr__
        else:
            cls.__setattr__ = own


def _width(layer: nn.Module, built: nn.Module, shapes: tuple[tuple[int, ...], ...]) -> int:
    """Channels out of ``layer``: from a forward pass at ``shapes``, else from its last conv/norm/linear."""
    if shapes:
        seen: list[int] = []
        handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out.shape[1]) if not seen else None)
        try:
            with torch.no_grad():
                built.eval()(*(torch.randn(shape) for shape in shapes))
        except Exception as error:
            raise CheckError(f"running the built model at --input failed: {type(error).__name__}: {error}") from None
        finally:
            handle.remove()
        if seen:
            return seen[0]
        raise CheckError("the anchor did not run in the forward pass at --input; wire a layer forward calls")
    for inner in reversed(list(layer.modules())):
        for attribute in WIDTH_ATTRIBUTES:
            value = getattr(inner, attribute, None)
            if type(value) is int:
                return value
        shape = getattr(inner, "normalized_shape", None)
        if isinstance(shape, tuple) and len(shape) == 1:
            return shape[0]
    raise CheckError(
        f"{type(layer).__name__} has no conv, norm or linear layer to read its width from; "
        f"add --input SHAPE to measure it in a forward pass, or pass --channels EXPR"
    )


def _choose(names: dict[str, int], width: int, constructor: str, class_name: str, anchor: str) -> str:
    """The one name in scope equal to ``width``; of several, the one the anchor's constructor uses."""
    matches = [name for name, value in names.items() if value == width]
    if len(matches) > 1:
        used = [name for name in matches if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", constructor)]
        matches = used if len(used) == 1 else matches
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CheckError(
            f"no name in scope in {class_name}.__init__ at self.{anchor} equals its width, {width}; "
            f"pass --channels EXPR"
        )
    raise CheckError(
        f"several names in scope in {class_name}.__init__ at self.{anchor} equal its width, {width}: "
        f"{', '.join(matches)}; pass the right one with --channels"
    )
