"""`add`, `remove` and `anchors` for Ultralytics YOLO model YAMLs.

``plugforge.wire.yolo_yaml`` edits the rows and ``plugforge.wire.yolo_tasks``
patches tasks.py; this module turns a catalog entry into a row, decides how
Ultralytics learns the block (source mode: files in its ``nn/modules`` and a
tasks.py patch; runtime mode: a ``register()`` package beside the YAML), and
writes every file or none.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugforge import files, project
from plugforge.catalog.spec import BlockSpec, find, load_catalog
from plugforge.errors import PlugforgeError
from plugforge.rendering.cache import default_block
from plugforge.wire import yolo_tasks, yolo_yaml

RUNTIME_PACKAGE = "plugforge_yolo"  # runtime mode: the package written beside the YAML
_REGISTER = Path(__file__).parents[1] / "wire" / "yolo_register.py"


@dataclass(frozen=True)
class Kind:
    """How parse_model must build a block: ``same`` (gets the input width), ``in_out`` (scaled width), ``plain``."""

    name: str
    channel_params: tuple[str, ...]  # the constructor parameters parse_model fills in


def block_kind(spec: BlockSpec, values: dict[str, Any]) -> Kind:
    """The block's kind from its catalog entry; an error for blocks a YAML row cannot hold."""
    from plugforge.wiring import _PROBE, _check_wireable, _output_width

    _check_wireable(spec)
    params = list(spec.params)
    if spec.input.channels and params[:2] == [spec.input.channels, "out_channels"]:
        return Kind("in_out", tuple(params[:2]))
    if not spec.input.channels and not spec.output.channels:
        return Kind("plain", ())
    if spec.input.channels and _output_width(spec, values) == _PROBE:
        return Kind("same", (spec.input.channels,))
    raise PlugforgeError(
        f"{spec.id} turns C channels into {spec.output.channels or 'another width'} with these parameters, and a YOLO "
        "row must either keep the width or take it as its first argument; set parameters that keep the width "
        f"(see `plugforge info {spec.id}`)"
    )


def row_args(spec: BlockSpec, kind: Kind, values: dict[str, Any], user_set: set[str], width: int | None) -> list[Any]:
    """The row's arguments: the width for an in/out block, then the others in catalog order up to the last one set."""
    others = [name for name in spec.params if name not in kind.channel_params]
    last = max((others.index(name) for name in user_set if name in others), default=-1)
    args = [values[name] for name in others[: last + 1]]
    return [width, *args] if kind.name == "in_out" else args


def add(
    spec: BlockSpec,
    values: dict[str, Any],
    chosen: set[str],
    model: Path,
    *,
    after: str | None = None,
    after_layer: str | None = None,
    rewire: str = "all",
    in_place: bool = False,
    ultralytics: Path | None = None,
    patch_installed: bool = False,
    dry_run: bool = False,
):
    """Insert rows for ``spec`` into the model YAML and register the block; every file is written, or none.

    ``values`` are the block's resolved parameter values; ``chosen`` the names the user set.
    """
    from plugforge.wiring import Outcome

    kind = block_kind(spec, values)
    text = files.read_text(model)
    rows = yolo_yaml.parse(text, str(model))
    anchors = _anchors(rows, after, after_layer, model)
    for anchor in anchors:
        yolo_yaml.check_anchor(rows, anchor, _shown(model))
        _check_one_map(rows[anchor], model)
    anchors = [a for a in anchors if not _already_there(rows, a, spec.id)]
    widths = {a: _width(spec, kind, values, chosen, rows[a], model) for a in anchors}
    texts = {
        a: yolo_yaml.row_text(spec.class_name, row_args(spec, kind, values, chosen, widths[a]), spec.id)
        for a in anchors
    }
    messages: list[str] = []
    target = model if in_place else model.with_name(f"{model.stem}-{spec.id}{model.suffix}")
    if not anchors:
        return Outcome([f"{_shown(model)} already has {spec.id} after those layers; nothing to do"])
    edit = yolo_yaml.insert(text, anchors, texts, rewire, str(model))
    if not in_place and target.exists() and target.read_bytes().decode("utf-8", "replace") != edit.text:
        raise PlugforgeError(f"{_shown(target)} exists with other content; delete it, or edit it with --in-place")
    changes: dict[Path, str | None] = {target: edit.text}
    mode, package = registration_mode(ultralytics, patch_installed)
    _check_names(spec, package)
    if mode == "source":
        changes.update(source_registration(package, [spec]))
    else:
        changes.update(runtime_registration(target.parent, [spec]))
    messages += _stride_warning(spec, values, rows, anchors, text)
    diff = project.write_all(changes, dry_run)
    messages += _report(model, target, spec, edit, mode, package, dry_run)
    return Outcome(messages + ([] if dry_run else diff.splitlines()), diff if dry_run else "", written=target)


def remove(
    model: Path, block_id: str, *, ultralytics: Path | None = None, keep_registered: bool = False, dry_run: bool = False
):
    """Take out the rows plugforge added for ``block_id`` (the original bytes come back) and its registration."""
    from plugforge.wiring import Outcome

    spec = find(block_id)
    edit = yolo_yaml.remove(files.read_text(model), spec.id, str(model))
    changes: dict[Path, str | None] = {model: edit.text}
    messages = [f"removed {spec.class_name} from layer(s) {', '.join(map(str, edit.inserted))} of {_shown(model)}"]
    if edit.moved:
        messages.append("layers moved back: " + _moves(edit.moved))
    undone = {} if keep_registered else unregistration(spec, ultralytics, model)
    changes.update(undone)
    if undone:
        messages.append(
            f"unregistered {spec.class_name}: other YAMLs that use it need `plugforge add` again (keep it with --keep-registered)"
        )
    diff = project.write_all(changes, dry_run)
    if not dry_run:
        _remove_emptied_packages(path for path, content in changes.items() if content is None)
    return Outcome(messages + ([] if dry_run else diff.splitlines()), diff if dry_run else "")


def _remove_emptied_packages(deleted) -> None:
    """Delete the package folders ``add`` created (``plugforge_yolo/``, 8.0's ``nn/plugforge_blocks/``) once emptied.

    Only the bytecode Python compiled from the deleted modules may be left in them.
    """
    for folder in {path.parent for path in deleted if path.parent.name in (RUNTIME_PACKAGE, yolo_tasks.LISTING)}:
        cache = folder / "__pycache__"
        if not folder.is_dir() or any(entry != cache for entry in folder.iterdir()):
            continue
        if cache.is_dir():
            if any(entry.suffix != ".pyc" or not entry.is_file() for entry in cache.iterdir()):
                continue
            for compiled in cache.iterdir():
                compiled.unlink()
            cache.rmdir()
        folder.rmdir()


def unregistration(spec: BlockSpec, ultralytics: Path | None, model: Path) -> dict[Path, str | None]:
    """The changes that undo the registration of ``spec``: its file and listing entry; with the last, the rest."""
    mode, package = registration_mode(ultralytics, False)
    source = mode == "source" and package is not None and listing_place(package)[1].is_file()
    listing_file = listing_place(package)[1] if source else model.parent / RUNTIME_PACKAGE / "__init__.py"
    folder = listing_file.parent
    if not listing_file.is_file():
        return {}
    registered = _listed(listing_file)
    if spec.id not in {s.id for s in registered}:
        return {}
    remaining = [s for s in registered if s.id != spec.id]
    changes: dict[Path, str | None] = {folder / f"{spec.module}.py": None}
    if remaining:
        changes[listing_file] = listing(remaining) if source else runtime_init(remaining)
    elif source:
        tasks = package / "nn" / "tasks.py"
        changes[listing_file] = None
        changes[tasks] = yolo_tasks.unpatch(tasks.read_text(encoding="utf-8"), str(tasks))
    else:
        changes.update({listing_file: None, folder / "_register.py": None})
    return changes


# ---- where Ultralytics is, and how it learns the block ----


def registration_mode(ultralytics: Path | None, patch_installed: bool) -> tuple[str, Path | None]:
    """``("source", package)`` for a checkout or editable install (or --patch-installed), else ``("runtime", package)``."""
    if ultralytics is not None:
        package = ultralytics if (ultralytics / "nn" / "tasks.py").is_file() else ultralytics / "ultralytics"
        if not (package / "nn" / "tasks.py").is_file():
            raise PlugforgeError(f"{ultralytics} is not an Ultralytics checkout: no ultralytics/nn/tasks.py in it")
        return "source", package
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return "runtime", None
    package = Path(list(spec.submodule_search_locations)[0])
    installed = any(part in ("site-packages", "dist-packages") for part in package.parts)
    return ("source" if patch_installed or not installed else "runtime"), package


def source_registration(package: Path, specs: list[BlockSpec]) -> dict[Path, str]:
    """Block files in ``ultralytics/nn/modules``, the listing module with them, and the tasks.py patch."""
    modules, listing_file, listing_module = listing_place(package)
    tasks = package / "nn" / "tasks.py"
    registered = _listed(listing_file) if listing_file.is_file() else []
    changes = _block_files(modules, specs)
    changes[listing_file] = listing(_merged(registered, specs))
    changes[tasks] = yolo_tasks.patch(tasks.read_text(encoding="utf-8"), str(tasks), listing_module)
    return changes


def runtime_registration(folder: Path, specs: list[BlockSpec]) -> dict[Path, str]:
    """A ``plugforge_yolo`` package beside the YAML: the blocks, and ``register()``."""
    package = folder / RUNTIME_PACKAGE
    init = package / "__init__.py"
    registered = _listed(init) if init.is_file() else []
    changes = _block_files(package, specs)
    changes[init] = runtime_init(_merged(registered, specs))
    changes[package / "_register.py"] = _REGISTER.read_text(encoding="utf-8")
    return changes


def listing(specs: list[BlockSpec]) -> str:
    """The module that imports the blocks and sorts them into the two sets parse_model's branches test."""
    kinds = {s.id: block_kind(s, s.defaults()).name for s in specs}
    imports = "".join(f"from .{s.module} import {s.class_name}\n" for s in specs)
    same = ", ".join(s.class_name for s in specs if kinds[s.id] == "same")
    in_out = ", ".join(s.class_name for s in specs if kinds[s.id] == "in_out")
    names = sorted([s.class_name for s in specs] + ["PLUGFORGE_IN_OUT", "PLUGFORGE_SAME_CHANNELS"])
    return (
        '"""Blocks added by plugforge, built by parse_model through its two plugforge branches."""\n\n'
        f"{imports}\n"
        "# Shape-preserving: parse_model passes the input width as the first argument.\n"
        f"PLUGFORGE_SAME_CHANNELS = {_frozenset(same)}\n"
        "# In/out channels: the row's first argument is the output width, scaled like Conv's.\n"
        f"PLUGFORGE_IN_OUT = {_frozenset(in_out)}\n\n"
        f"__all__ = [{', '.join(map(_quoted, names))}]\n"
    )


def runtime_init(specs: list[BlockSpec]) -> str:
    """The runtime package's ``__init__``: the listing and ``register()``."""
    text = listing(specs).replace(
        '"""Blocks added by plugforge, built by parse_model through its two plugforge branches."""',
        '"""Blocks added by plugforge, and register(), which teaches Ultralytics\' parse_model to build them.\n\n'
        "Call register() before building a model from the YAML or loading a checkpoint that contains them:\n\n"
        f"    import {RUNTIME_PACKAGE}\n\n    {RUNTIME_PACKAGE}.register()\n"
        '"""',
    )
    text = text.replace("from .", "from ._register import register as _register\nfrom .", 1)
    text = text.replace("__all__ = [", '__all__ = ["register", ', 1)
    classes = ", ".join(s.class_name for s in specs)
    return text + (
        "\n\ndef register() -> None:\n"
        '    """Put the blocks into ultralytics.nn.tasks and give its parse_model the two plugforge branches."""\n'
        f"    _register(PLUGFORGE_SAME_CHANNELS, PLUGFORGE_IN_OUT, [{classes}])\n"
    )


def _quoted(name: str) -> str:
    return f'"{name}"'


def _frozenset(names: str) -> str:
    return f"frozenset({{{names}}})" if names else "frozenset()"


def _merged(registered: list[BlockSpec], specs: list[BlockSpec]) -> list[BlockSpec]:
    by_id = {s.id: s for s in registered}
    by_id.update({s.id: s for s in specs})
    return sorted(by_id.values(), key=lambda s: s.id)


def _listed(listing_file: Path) -> list[BlockSpec]:
    """The catalog entries a listing module imports."""
    by_class = {s.class_name: s for s in load_catalog().specs}
    tree = ast.parse(listing_file.read_text(encoding="utf-8"))
    names = [
        a.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module != "_register"
        for a in node.names
    ]
    return [by_class[name] for name in names if name in by_class]


def _block_files(folder: Path, specs: list[BlockSpec]) -> dict[Path, str]:
    changes = {}
    for spec in specs:
        path = folder / f"{spec.module}.py"
        code = default_block(spec)
        if path.is_file() and path.read_text(encoding="utf-8") != code:
            if "plugforge" not in path.read_text(encoding="utf-8").split("\n", 3)[0:3].__str__():
                raise PlugforgeError(f"{path} exists and plugforge did not write it; rename it, then run add again")
            continue  # a plugforge render, maybe edited: kept as it is
        changes[path] = code
    return changes


def listing_place(package: Path) -> tuple[Path, Path, str]:
    """``(folder for the block files, listing file, its module)`` in this Ultralytics' layout.

    ``ultralytics/nn/modules/`` is a package since 8.0.x's later releases; before, ``nn/modules.py`` is
    one file and the blocks get their own package, ``ultralytics/nn/plugforge_blocks/``.
    """
    name = yolo_tasks.LISTING
    modules = package / "nn" / "modules"
    if modules.is_dir():
        return modules, modules / f"{name}.py", f"ultralytics.nn.modules.{name}"
    return package / "nn" / name, package / "nn" / name / "__init__.py", f"ultralytics.nn.{name}"


def _check_names(spec: BlockSpec, package: Path | None) -> None:
    """A row names its class, so the block's class must not be one tasks.py has (the static list without it)."""
    tasks = package / "nn" / "tasks.py" if package else None
    if tasks and tasks.is_file():
        names = yolo_tasks.module_names(tasks.read_text(encoding="utf-8"))
    else:
        names = _BASE_MODULES | _NOT_ONE_MAP | {"Concat", "AIFI", "HGStem", "HGBlock", "ResNetLayer", "CBFuse", "Index"}
    if spec.class_name in names:
        raise PlugforgeError(
            f"Ultralytics' tasks.py already has a {spec.class_name} ({spec.id}'s class), so a row could not tell them "
            f"apart; use Ultralytics' own {spec.class_name} in your YAML, or pick another block"
        )


# ---- rows ----


def _anchors(rows: list[yolo_yaml.Row], after: str | None, after_layer: str | None, model: Path) -> list[int]:
    if (after is None) == (after_layer is None):
        raise PlugforgeError("give the position: --after INDEX[,INDEX...] (a layer index) or --after-layer NAME")
    if after is not None:
        try:
            return sorted({int(part) for part in after.split(",") if part.strip()})
        except ValueError:
            raise PlugforgeError(
                f"--after takes layer indices for a YOLO YAML, e.g. --after 4 or --after 4,6; got {after!r}"
            ) from None
    return [layer_index(rows, after_layer, model)]


def layer_index(rows: list[yolo_yaml.Row], name: str, model: Path) -> int:
    """``SPPF`` (occurs once), ``C2f:2`` (the second), or ``backbone`` (its last row)."""
    if name == "backbone":
        return max(r.index for r in rows if r.section == "backbone")
    module, _, nth = name.partition(":")
    matches = [r.index for r in rows if r.module == module]
    if not matches:
        known = ", ".join(sorted({r.module for r in rows}))
        raise PlugforgeError(f"{_shown(model)} has no {module} layer; its modules: {known} (or `backbone`)")
    if nth:
        if not nth.isdigit() or not 1 <= int(nth) <= len(matches):
            raise PlugforgeError(
                f"{_shown(model)} has {len(matches)} {module} layers; --after-layer {module}:k takes k in 1..{len(matches)}"
            )
        return matches[int(nth) - 1]
    if len(matches) > 1:
        raise PlugforgeError(
            f"{_shown(model)} has {len(matches)} {module} layers ({', '.join(map(str, matches))}); "
            f"pick one with --after-layer {module}:k (k = 1..{len(matches)}) or --after INDEX"
        )
    return matches[0]


# Modules whose output is not one (B, C, H, W) map: a tuple of maps (CBLinear), or a head's predictions.
_NOT_ONE_MAP = frozenset(
    "CBLinear Classify Detect Segment Pose OBB WorldDetect YOLOEDetect YOLOESegment v10Detect "
    "RTDETRDecoder ImagePoolingAttn LRPCHead".split()
)


def _check_one_map(row: yolo_yaml.Row, model: Path) -> None:
    if row.module in _NOT_ONE_MAP:
        raise PlugforgeError(
            f"layer {row.index} of {_shown(model)} ({row.module}) does not output one (B, C, H, W) map, so a block "
            "cannot follow it; pick a layer that does (`plugforge anchors` lists them)"
        )


def _already_there(rows: list[yolo_yaml.Row], anchor: int, block_id: str) -> bool:
    return anchor + 1 < len(rows) and rows[anchor + 1].plugforge_id == block_id


# Ultralytics' modules whose first argument is the output width (parse_model's base_modules).
_BASE_MODULES = frozenset(
    "Classify Conv ConvTranspose GhostConv Bottleneck GhostBottleneck SPP SPPF C2fPSA C2PSA DWConv Focus "
    "BottleneckCSP C1 C2 C2f C3k2 RepNCSPELAN4 ELAN1 ADown AConv SPPELAN C2fAttn C3 C3TR C3Ghost "
    "nn.ConvTranspose2d DWConvTranspose2d C3x RepC3 PSA SCDown C2fCIB A2C2f".split()
)


def _width(
    spec: BlockSpec, kind: Kind, values: dict[str, Any], chosen: set[str], anchor: yolo_yaml.Row, model: Path
) -> int | None:
    """An in/out block's unscaled output width: ``--set out_channels=N``, else the anchor row's width."""
    if kind.name != "in_out":
        return None
    if "out_channels" in chosen:
        return values["out_channels"]
    if anchor.module in _BASE_MODULES and anchor.args and isinstance(anchor.args[0], int):
        return anchor.args[0]
    raise PlugforgeError(
        f"layer {anchor.index} ({anchor.module}) does not state its width in the YAML; give {spec.id}'s output "
        "width with --set out_channels=N (unscaled, as the rows around it write theirs)"
    )


def _stride_warning(spec: BlockSpec, values: dict[str, Any], rows, anchors: list[int], text: str) -> list[str]:
    """A stride > 1 shrinks every map computed from the block: which head inputs change, by how much, what breaks."""
    stride = values.get(spec.output.stride) if spec.output.stride in spec.params else None
    if not stride or stride == 1:
        return []
    affected = set(anchors)
    for row in rows:
        if row.index > min(anchors) and set(_resolved(row)) & affected:
            affected.add(row.index)
    measured = _measured(yolo_yaml.load(text), scales=1)
    before = measured[2] if measured else None
    head = rows[-1]
    inputs = []
    for index in _resolved(head):
        if index in affected:
            change = (
                f" (stride {before[index]} -> {int(before[index]) * stride})"
                if before and before[index].isdigit()
                else ""
            )
            inputs.append(f"{index}{change}")
    mixed = [r.index for r in rows[:-1] if r.module == "Concat" and len({i in affected for i in _resolved(r)}) > 1]
    lines = [
        f"warning: {spec.id} with stride={stride} divides H and W by {stride} after layer(s) {', '.join(map(str, anchors))}"
        f" (old numbering): the head's inputs {', '.join(inputs) or 'none'} get {stride}x their stride"
    ]
    if mixed:
        lines.append(
            f"warning: Concat layer(s) {', '.join(map(str, mixed))} (old numbering) join it with maps of the old size; "
            "the model will not build unless their other inputs shrink too"
        )
    return lines


def _resolved(row: yolo_yaml.Row) -> list[int]:
    """The absolute indices a row reads."""
    return [row.index + i if i < 0 else i for i in row.sources()]


# ---- anchors ----

SCALES = "nsmlx"


def layers(model: Path) -> list[tuple[str, ...]]:
    """Every layer: index, from, module, args, comment; with Ultralytics importable, channels per scale and stride."""
    text = files.read_text(model)
    rows = yolo_yaml.parse(text, str(model))
    measured = _measured(yolo_yaml.load(text))
    scales = measured[0] if measured else []
    header = (
        "INDEX",
        "FROM",
        "MODULE",
        "ARGS",
        *(f"C({s})" for s in scales),
        *(("STRIDE",) if measured else ()),
        "COMMENT",
    )
    table = [header]
    for row in rows:
        columns = [str(row.index), str(row.source), row.module, str(row.args)]
        if measured:
            columns += [measured[1][scale][row.index] for scale in scales] + [measured[2][row.index]]
        table.append((*columns, row.comment))
    return table


def _measured(data: dict, scales: int = 5) -> tuple[list[str], dict[str, list[str]], list[str]] | None:
    """``(scales, channels per scale, strides)`` from building the model with Ultralytics (at its first
    ``scales`` scales), or None without it."""
    if importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("torch") is None:
        return None
    import copy

    import torch
    from ultralytics.nn import tasks

    scales = (list(data.get("scales") or {}) or [""])[:scales]
    size = 128
    channels, strides = {}, []
    for scale in scales:
        config = {**copy.deepcopy(data), "scale": scale} if scale else copy.deepcopy(data)
        try:
            network, _ = tasks.parse_model(config, ch=data.get("channels", 3), verbose=False)
            outputs = layer_outputs(network.eval(), torch.zeros(1, data.get("channels", 3), size, size))
        except Exception:  # a row this Ultralytics cannot build: the static columns only
            return None
        channels[scale] = [str(o.shape[1]) if _is_map(o) else "-" for o in outputs]
        strides = strides or [str(size // o.shape[2]) if _is_map(o) else "-" for o in outputs]
    return [s for s in scales], channels, strides


def layer_outputs(network, x) -> list:
    """Each layer's output, routed as Ultralytics' models route them (``m.f``)."""
    import torch

    outputs: list = []
    with torch.no_grad():
        for layer in network:
            if layer.f != -1:
                x = outputs[layer.f] if isinstance(layer.f, int) else [x if j == -1 else outputs[j] for j in layer.f]
            x = layer(x)
            outputs.append(x)
    return outputs


def _is_map(value) -> bool:
    return hasattr(value, "dim") and value.dim() == 4


# ---- messages ----


def _report(
    model: Path, target: Path, spec: BlockSpec, edit, mode: str, package: Path | None, dry_run: bool
) -> list[str]:
    lines = [f"inserted {spec.class_name} at layer(s) {', '.join(map(str, edit.inserted))}"]
    if edit.moved:
        lines.append(
            f"layers moved: {_moves(edit.moved)} (settings that name layers move too, e.g. freeze=10 becomes {_moved(edit.moved, 10)})"
        )
    scale = _scaled_name(target) if "scales:" in edit.text else None
    lines.append(f"load it as {scale}" if scale else f"load {_shown(target)}")
    if mode == "source":
        lines.append(
            f"registered {spec.class_name} in {_shown(package / 'nn' / 'tasks.py')} (parse_model builds it from every entry point)"
        )
    else:
        lines += [
            (
                f"Ultralytics is a plain install ({_shown(package)}), so it was not patched"
                if package
                else "Ultralytics was not found, so nothing was patched"
            )
            + f": {RUNTIME_PACKAGE}/ beside the YAML registers the block. Before building or loading:",
            f"    import {RUNTIME_PACKAGE}; {RUNTIME_PACKAGE}.register()",
            "  limits: the `yolo` command line does not call it (use the Python API, or --ultralytics PATH / --patch-installed);"
            f" {RUNTIME_PACKAGE} must be importable wherever a checkpoint with the block is loaded",
        ]
    return lines


def _scaled_name(target: Path) -> str | None:
    """``yolov8-cbam.yaml`` loads as ``yolov8n-cbam.yaml`` .. ``yolov8x-cbam.yaml`` (Ultralytics reads the scale letter)."""
    import re

    match = re.match(r"^(.*?\d+)(-.*)$", target.name)
    if not match:
        return None
    return f"{match[1]}n{match[2]} .. {match[1]}x{match[2]} (the letter picks the scale) from {_shown(target.parent)}"


def _moves(moved: dict[int, int]) -> str:
    """``5..6 -> 6..7, 7..22 -> 9..24``: runs of layers that moved by the same amount."""
    runs: list[list[int]] = []  # [first old, last old, shift]
    for old, new in sorted(moved.items()):
        if runs and runs[-1][1] == old - 1 and runs[-1][2] == new - old:
            runs[-1][1] = old
        else:
            runs.append([old, old, new - old])
    return ", ".join(f"{a} -> {a + d}" if a == b else f"{a}..{b} -> {a + d}..{b + d}" for a, b, d in runs)


def _moved(moved: dict[int, int], index: int) -> int:
    return moved.get(index, index)


def _shown(path: Path) -> str:
    """The path relative to the current folder where it is inside it, else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
