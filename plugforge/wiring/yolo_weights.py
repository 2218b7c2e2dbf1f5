"""Move a YOLO checkpoint's weights onto the same model with plugforge rows inserted.

The checkpoint stores the YAML it was built from; the new YAML is that YAML plus
rows marked ``# plugforge: <id>``. Each old layer index maps to its new one,
``model.N.`` keys are renamed, tensors load by shape, and the new model is saved
in Ultralytics' checkpoint format (fp16, as Ultralytics saves). Imports torch and
Ultralytics: only the `remap` command and `add --weights` use it.
"""

from __future__ import annotations

import copy
import importlib
import re
import sys
from pathlib import Path

from plugforge.errors import PlugforgeError
from plugforge.wire import yolo_yaml

_KEY = re.compile(r"^model\.(\d+)\.(.*)$")


def remap(checkpoint: Path, model_yaml: Path, output: Path, ultralytics: Path | None = None) -> str:
    """Write ``output`` and return the report, e.g. "355/355 tensors transferred, 4 new (model.5.*)"."""
    import torch

    _importable(model_yaml, ultralytics)
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    old = (ckpt.get("ema") or ckpt["model"]).float()
    text = model_yaml.read_text(encoding="utf-8")
    rows = yolo_yaml.parse(text, str(model_yaml))
    index_map = _index_map(old.yaml, rows, model_yaml)
    import yaml

    config = {**yaml.safe_load(text), "scale": old.yaml.get("scale")}
    config = {k: v for k, v in config.items() if v is not None}
    new = type(old)(cfg=config, ch=old.yaml.get("channels", 3), nc=old.yaml.get("nc"), verbose=False)
    state = new.state_dict()
    transferred, filled = 0, set()
    for key, tensor in old.state_dict().items():
        match = _KEY.match(key)
        target = f"model.{index_map[int(match[1])]}.{match[2]}" if match else key
        if target in state and state[target].shape == tensor.shape:
            state[target] = tensor
            transferred += 1
            filled.add(target)
    new.load_state_dict(state)
    for name in ("names", "args", "pt_path", "task"):
        if hasattr(old, name):
            setattr(new, name, getattr(old, name))
    saved = {**ckpt, "model": copy.deepcopy(new).half(), "ema": None, "optimizer": None, "epoch": -1}
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, output)
    fresh = sorted({int(m[1]) for k in state if k not in filled and (m := _KEY.match(k))})
    total = len(old.state_dict())
    new_count = len([k for k in state if k not in filled])
    layers = ", ".join(f"model.{i}.*" for i in fresh)
    return f"{transferred}/{total} tensors transferred, {new_count} new ({layers or 'none'}); wrote {output}"


def _index_map(stored: dict, rows: list[yolo_yaml.Row], model_yaml: Path) -> dict[int, int]:
    """Old layer index -> new index: the new rows without plugforge's must be the checkpoint's rows."""
    old_rows = stored["backbone"] + stored["head"]
    kept = [row for row in rows if row.plugforge_id is None]
    if [r.module for r in kept] != [row[2] for row in old_rows]:
        raise PlugforgeError(
            f"{model_yaml} without its plugforge rows is not the model stored in the checkpoint "
            f"({len(kept)} rows vs {len(old_rows)}); pass the YAML that `plugforge add` wrote from that model's YAML"
        )
    return {old: row.index for old, row in enumerate(kept)}


def _importable(model_yaml: Path, ultralytics: Path | None) -> None:
    """Ultralytics (a checkout given with --ultralytics first) with the registered blocks in its parse_model.

    In source mode the blocks are in Ultralytics' files; registering them again at run time covers an
    Ultralytics imported before they were added (the same process). In runtime mode, ``plugforge_yolo``.
    """
    if ultralytics is not None:
        root = ultralytics if (ultralytics / "ultralytics").is_dir() else ultralytics.parent
        sys.path.insert(0, str(root))
    try:
        import ultralytics as package
    except ImportError:
        raise PlugforgeError("remapping weights builds the model with Ultralytics: pip install ultralytics") from None
    from plugforge.wire.yolo_register import register
    from plugforge.wiring.yolo import RUNTIME_PACKAGE, listing_place

    runtime = model_yaml.resolve().parent
    if (runtime / RUNTIME_PACKAGE / "__init__.py").is_file():
        sys.path.insert(0, str(runtime))
        blocks = importlib.import_module(RUNTIME_PACKAGE)
    elif listing_place(Path(package.__file__).parent)[1].is_file():
        blocks = importlib.reload(importlib.import_module(listing_place(Path(package.__file__).parent)[2]))
    else:
        return
    classes = [getattr(blocks, name) for name in blocks.__all__ if isinstance(getattr(blocks, name), type)]
    register(blocks.PLUGFORGE_SAME_CHANNELS, blocks.PLUGFORGE_IN_OUT, classes)
