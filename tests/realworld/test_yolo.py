"""YOLO model YAMLs of the pinned Ultralytics wheel: row edits on every file, registration, builds.

Works on a throwaway copy of the unpacked wheel (tests/realworld/site.py); models
run at 64x64 to keep CI cheap (the strides and channels do not depend on the size).
"""

import copy
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plugforge.wire import yolo_yaml
from plugforge.wire.errors import WireError
from plugforge.wiring.yolo import layer_outputs
from tests.conftest import invoke
from tests.realworld.packages import PACKAGES, Unavailable, unpacked
from tests.test_yolo import _dict_insert

pytestmark = pytest.mark.realworld

SIZE = 64
POSITIONS = (2, 4, 6, 9)  # after a C2f/C3k2 at P2, P3, P4, and after SPPF (yolov8 and yolo11 share them)


def model_files(key="ultralytics"):
    try:
        root = unpacked(key) / "ultralytics" / "cfg" / "models"
    except Unavailable as error:
        pytest.skip(str(error))
    return sorted(root.rglob("*.yaml"))


def rows_of(text):
    data = yaml.safe_load(text)
    return data["backbone"] + data["head"]


@pytest.mark.parametrize("key, rewires", [("ultralytics", ("all", "next")), ("ultralytics-8.4.190", ("all",))])
def test_every_model_yaml_at_every_position_equals_the_dict_edit_and_removes_to_its_bytes(key, rewires):
    files = model_files(key)
    edits = refused = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        layers = rows_of(text)
        for anchor in range(len(layers)):
            for rewire in rewires:
                try:
                    edit = yolo_yaml.insert(text, [anchor], yolo_yaml.row_text("SimAM", [], "simam"), rewire, str(path))
                except WireError as error:
                    assert anchor == len(layers) - 1 and "last row" in str(error)
                    refused += 1
                    continue
                assert rows_of(edit.text) == _dict_insert(layers, anchor, rewire), (path, anchor, rewire)
                assert yolo_yaml.remove(edit.text, "simam", str(path)).text == text, (path, anchor, rewire)
                edits += 1
    print(
        f"\n{PACKAGES[key].pin}: {len(files)} model YAMLs: {edits} edits equal to the dict edit and undone byte for byte, {refused} refused (last row)"
    )
    assert len(files) >= 50 and refused == len(rewires) * len(files)


@pytest.fixture
def patched(site, tmp_path):
    """The site's Ultralytics with cbam (shape-preserving) and rfb (in/out) registered, and the wired YAMLs."""
    ultralytics = site("ultralytics")
    root = ultralytics.root / "ultralytics" / "cfg" / "models"
    yamls = {}
    families = ("v8/yolov8", "11/yolo11", "v8/yolov8-pose", "11/yolo11-seg")
    for family, source in ((f.split("/")[1], root / f"{f}.yaml") for f in families):
        target = tmp_path / source.name
        target.write_bytes(source.read_bytes())
        positions = ",".join(map(str, POSITIONS))
        result = invoke("add", "cbam", "--into", target, "--after", positions, "--ultralytics", ultralytics.root)
        assert result.exit_code == 0, result.output
        result = invoke(
            "add", "rfb", "--into", tmp_path / f"{family}-cbam.yaml", "--after", "4", "--ultralytics", ultralytics.root
        )
        assert result.exit_code == 0, result.output
        yamls[family] = (target, tmp_path / f"{family}-cbam-rfb.yaml")
    return ultralytics, yamls


def _tensor_shapes(output) -> list:
    if isinstance(output, (list, tuple)):
        return [shape for item in output for shape in _tensor_shapes(item)]
    return [tuple(output.shape)]


def test_yolov8_and_yolo11_build_at_every_scale_with_blocks_at_five_positions(patched):
    """Detect at every scale n..x, and Pose (yolov8) and Segment (yolo11) at n: the head gets its original inputs."""
    import torch

    site, yamls = patched
    with site.imports():
        from ultralytics.nn.tasks import parse_model

        for family, (original, wired) in yamls.items():
            plain, new = yaml.safe_load(original.read_text()), yaml.safe_load(wired.read_text())
            for scale in "nsmlx" if family in ("yolov8", "yolo11") else "n":
                before, _ = parse_model({**copy.deepcopy(plain), "scale": scale}, ch=3, verbose=False)
                after, _ = parse_model({**copy.deepcopy(new), "scale": scale}, ch=3, verbose=False)
                kinds = [type(layer).__name__ for layer in after]
                assert kinds.count("CBAM") == len(POSITIONS) and kinds.count("BasicRFB") == 1
                head_before, head_after = before[-1], after[-1]
                shapes = lambda head: {k: tuple(v.shape) for k, v in head.state_dict().items()}
                assert shapes(head_after) == shapes(head_before), (family, scale)  # Detect's inputs: same channels
                with torch.no_grad():
                    outputs = layer_outputs(after.eval(), torch.zeros(1, 3, SIZE, SIZE))
                strides = [SIZE // outputs[i].shape[-1] for i in head_after.f]
                assert strides == [8, 16, 32], (family, scale)
                if scale == "n":
                    with torch.no_grad():
                        reference = layer_outputs(before.eval(), torch.zeros(1, 3, SIZE, SIZE))[-1]
                    assert _tensor_shapes(outputs[-1]) == _tensor_shapes(reference), family


def _offline_env(site):
    return {**os.environ, "PYTHONPATH": str(site.root), "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "false",
            "YOLO_CONFIG_DIR": str(site.config_dir), "HF_HUB_OFFLINE": "1"}  # fmt: skip


def _shim(site):
    """CPU torch cannot register torchvision's compiled ops: a subprocess gets the empty stand-in site.py gives imports."""
    path = site.root / "torchvision" / "_meta_registrations.py"
    path.unlink()
    path.write_text("# stand-in: the test's CPU torch has no torchvision ops\n")


def test_yolo_cli_builds_the_patched_yaml_and_a_checkpoint_loads_in_a_fresh_process(patched, tmp_path):
    import cv2
    import numpy as np

    site, yamls = patched
    _shim(site)
    env = _offline_env(site)
    wired = yamls["yolov8"][1]
    scaled = wired.name.replace(
        "yolov8", "yolov8s"
    )  # Ultralytics reads the scale letter, then loads yolov8-cbam-rfb.yaml
    cv2.imwrite(str(tmp_path / "image.jpg"), np.full((64, 64, 3), 127, np.uint8))
    yolo = [sys.executable, "-c", "from ultralytics.cfg import entrypoint; entrypoint()"]  # the `yolo` command
    command = [*yolo, "predict", f"model={scaled}", "source=image.jpg", "imgsz=64", "save=False"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and "64x64" in done.stdout + done.stderr, (done.stdout + done.stderr)[-3000:]
    save = (
        "from ultralytics import YOLO\n"
        f"model = YOLO({scaled!r})\n"
        "print('stride', model.model.stride.tolist())\n"
        "model.save('wired.pt')\n"
    )
    done = subprocess.run([sys.executable, "-c", save], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stride [8.0, 16.0, 32.0]" in done.stdout
    load = (
        "import torch\nfrom ultralytics import YOLO\n"
        "model = YOLO('wired.pt')\n"
        "y = model.model.float().eval()(torch.zeros(1, 3, 64, 64))\n"
        "print('loaded', type(model.model.model[3]).__name__, tuple(y[0].shape))\n"
    )
    done = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded CBAM" in done.stdout


# The `yolo` command. The test's torchvision wheel is a CUDA build whose compiled ops CPU torch cannot
# load (see _shim): validation's NMS, the one such op training calls, runs Ultralytics' own torch NMS.
_TORCH_NMS = "import torchvision.ops\nfrom ultralytics.utils.nms import TorchNMS\ntorchvision.ops.nms = TorchNMS.nms\n"
_YOLO = _TORCH_NMS + "from ultralytics.cfg import entrypoint\nentrypoint()\n"


def _tiny_dataset(folder):
    """Four random 64x64 images with one box each, train and val alike, and its data YAML."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    for kind in ("images", "labels"):
        (folder / kind).mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(folder / "images" / f"{i}.jpg"), rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
        (folder / "labels" / f"{i}.txt").write_text(f"0 0.5 0.5 {0.2 + 0.1 * i:.1f} 0.4\n")
    data = folder / "data.yaml"
    data.write_text(f"path: {folder}\ntrain: images\nval: images\nnames:\n  0: box\n")
    return data


def test_yolo_train_builds_the_patched_yaml_and_its_checkpoint_trains_again_in_a_fresh_process(site, tmp_path):
    """The README's flow on a clone: add cbam to ultralytics' own yolov8.yaml, `yolo train model=yolov8n-cbam.yaml`;
    then YOLO(last.pt).train(), which rebuilds the model from the YAML stored in the checkpoint, and predict."""
    for module in ("matplotlib", "polars"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"yolo train imports {module}: pip install {module} (or -e '.[test,realworld]')")
    ultralytics = site("ultralytics")
    _shim(ultralytics)
    env = _offline_env(ultralytics)
    models = ultralytics.root / "ultralytics" / "cfg" / "models" / "v8"
    result = invoke("add", "cbam", "--into", models / "yolov8.yaml", "--after", "4", "--ultralytics", ultralytics.root)
    assert result.exit_code == 0 and (models / "yolov8-cbam.yaml").is_file(), result.output
    data = _tiny_dataset(tmp_path / "data")
    settings = {"data": str(data), "epochs": 1, "imgsz": SIZE, "batch": 4, "workers": 0, "device": "cpu",
                "plots": False, "project": str(tmp_path / "runs")}  # fmt: skip
    train = [sys.executable, "-c", _YOLO, "train", "model=yolov8n-cbam.yaml", "name=first"]
    train += [f"{key}={value}" for key, value in settings.items()]  # the `yolo` command's key=value form
    done = subprocess.run(train, env=env, capture_output=True, text=True, cwd=tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0 and "1 epochs completed" in log, log[-3000:]
    assert re.search(r"^ +5 +-1 +1 +\d+ +ultralytics\.nn\.modules\.cbam\.CBAM +\[64\] *$", log, re.M), log[-3000:]
    weights = tmp_path / "runs" / "first" / "weights"
    assert (weights / "best.pt").is_file() and (weights / "last.pt").is_file()
    again = (
        _TORCH_NMS + "from ultralytics import YOLO\n"
        f"model = YOLO({str(weights / 'last.pt')!r})\n"
        f"model.train(name='again', **{settings!r})\n"
        "print('rebuilt', type(model.model.model[5]).__name__, model.model.stride.tolist())\n"
        f"result = model.predict({str(tmp_path / 'data' / 'images' / '0.jpg')!r}, imgsz=64, save=False)[0]\n"
        "print('predicted', tuple(result.orig_shape), len(result.boxes))\n"
    )
    done = subprocess.run([sys.executable, "-c", again], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "rebuilt CBAM [8.0, 16.0, 32.0]" in done.stdout and "predicted (64, 64)" in done.stdout, done.stdout[-2000:]
    assert (tmp_path / "runs" / "again" / "weights" / "last.pt").is_file()


def test_remap_transfers_every_tensor_and_identity_init_computes_what_the_checkpoint_did(site, tmp_path):
    import torch

    ultralytics = site("ultralytics")
    source = ultralytics.root / "ultralytics" / "cfg" / "models" / "v8" / "yolov8.yaml"
    model_yaml = tmp_path / "yolov8.yaml"
    model_yaml.write_bytes(source.read_bytes())
    result = invoke(
        "add", "cbam", "--into", model_yaml, "--after", "4", "--identity-init", "--ultralytics", ultralytics.root
    )
    assert result.exit_code == 0, result.output
    with ultralytics.imports():
        from ultralytics import YOLO

        torch.manual_seed(0)
        YOLO("yolov8n.yaml").save(tmp_path / "yolov8n.pt")  # a checkpoint in Ultralytics' format (fp16)
        result = invoke("remap", tmp_path / "yolov8n.pt", tmp_path / "yolov8-cbam.yaml", "-o", tmp_path / "init.pt")
        assert result.exit_code == 0, result.output
        old = torch.load(tmp_path / "yolov8n.pt", weights_only=False)["model"].float().eval()
        new = torch.load(tmp_path / "init.pt", weights_only=False)["model"].float().eval()
        total = len(old.state_dict())
        assert f"{total}/{total} tensors transferred, 4 new (model.5.*)" in result.output
        x = torch.rand(1, 3, SIZE, SIZE)
        with torch.no_grad():
            assert torch.equal(old(x)[0], new(x)[0])  # bitwise: the blocks start as the identity
        assert type(new.model[5]).__name__ == "CBAM" and new.model[-1].f == [16, 19, 22]
        report = result.output.strip()
        by_name = {k for k, v in new.state_dict().items() if k in old.state_dict() and old.state_dict()[k].shape == v.shape}
        report += f" (loading by name would match {len(by_name)}/{total})"
        other = tmp_path / "other" / "yolov8.yaml"  # the same through add --weights
        other.parent.mkdir()
        other.write_bytes(source.read_bytes())
        result = invoke("add", "eca", "--into", other, "--after", "6,9", "--ultralytics", ultralytics.root,
                        "--weights", tmp_path / "yolov8n.pt", "-o", tmp_path / "eca.pt")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"{total}/{total} tensors transferred, 2 new (model.7.*, model.11.*)" in result.output
    print(f"\nremap: {report}\nadd --weights: {result.output.strip().splitlines()[-1]}")


def test_runtime_mode_register_builds_the_yaml_without_touching_ultralytics(site, tmp_path, monkeypatch):
    import torch

    ultralytics = site("ultralytics")
    tasks = ultralytics.root / "ultralytics" / "nn" / "tasks.py"
    pristine = tasks.read_bytes()
    source = ultralytics.root / "ultralytics" / "cfg" / "models" / "11" / "yolo11.yaml"
    (tmp_path / "yolo11.yaml").write_bytes(source.read_bytes())
    result = invoke(
        "add", "eca", "--into", tmp_path / "yolo11.yaml", "--after", "4,6"
    )  # Ultralytics not importable here
    assert result.exit_code == 0 and "plugforge_yolo.register()" in result.output, result.output
    result = invoke("add", "rfb", "--into", tmp_path / "yolo11-eca.yaml", "--after", "10")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with ultralytics.imports():
            import plugforge_yolo
            from ultralytics import YOLO

            plugforge_yolo.register()
            plugforge_yolo.register()  # twice is harmless
            model = YOLO("yolo11s-eca-rfb.yaml").model.eval()
            kinds = [type(layer).__name__ for layer in model.model]
            assert kinds.count("EfficientChannelAttention") == 2 and kinds.count("BasicRFB") == 1
            assert model.stride.tolist() == [8.0, 16.0, 32.0]
            with torch.no_grad():
                assert model(torch.zeros(1, 3, SIZE, SIZE))[0].shape[1] == 84
    finally:
        for name in [n for n in sys.modules if n.partition(".")[0] == "plugforge_yolo"]:
            del sys.modules[name]
    assert tasks.read_bytes() == pristine


_ULTRALYTICS_8_0_IMPORTS = {"pandas", "psutil", "requests", "hydra", "omegaconf", "IPython", "pkg_resources", "thop"}


@pytest.mark.parametrize("key", ["ultralytics-8.0.0", "ultralytics-8.3.150", "ultralytics", "ultralytics-8.4.190"])
def test_registration_is_applied_and_removed_on_several_ultralytics_versions(site, tmp_path, key):
    """The oldest 8.0, a mid 8.3, the pinned 8.3.253 and the newest checked: patch, build where it imports, unpatch."""
    import torch

    ultralytics = site(key)
    package = ultralytics.root / "ultralytics"
    tasks = package / "nn" / "tasks.py"
    pristine = tasks.read_bytes()
    source = min(package.rglob("yolov8.yaml"), default=None) or min(
        package.rglob("yolov8n.yaml")
    )  # 8.0: one file per scale
    model_yaml = tmp_path / source.name
    model_yaml.write_bytes(source.read_bytes())
    result = invoke("add", "cbam", "--into", model_yaml, "--after", "4", "--ultralytics", ultralytics.root)
    assert result.exit_code == 0, result.output
    patched = tasks.read_text()
    compile(patched, str(tasks), "exec")
    assert patched.count("PLUGFORGE_SAME_CHANNELS") == 1 and patched.count("plugforge_blocks import *") == 1
    wired = model_yaml.with_name(f"{model_yaml.stem}-cbam.yaml")
    try:
        with ultralytics.imports():
            from ultralytics.nn.tasks import DetectionModel

            config = {**yaml.safe_load(wired.read_text()), "scale": "n"}
            model = DetectionModel(config, verbose=False).eval()
            assert type(model.model[5]).__name__ == "CBAM" and model.stride.tolist() == [8.0, 16.0, 32.0]
            with torch.no_grad():
                model(torch.zeros(1, 3, SIZE, SIZE))
            built = "built"
    except ModuleNotFoundError as error:
        # 8.0.0 imports at the top pandas, psutil, requests, hydra (hydra-core), IPython, pkg_resources
        # (setuptools<81) and thop (a torch package): with those it builds here too (checked by hand)
        if key != "ultralytics-8.0.0" or error.name not in _ULTRALYTICS_8_0_IMPORTS:
            raise
        built = f"not built here: {error}"
    result = invoke("remove", "cbam", "--from", wired, "--ultralytics", ultralytics.root)
    assert result.exit_code == 0, result.output
    assert tasks.read_bytes() == pristine and wired.read_bytes() == model_yaml.read_bytes()
    leftovers = [p.name for p in package.joinpath("nn").rglob("*") if "plugforge" in p.name or p.name == "cbam.py"]
    assert leftovers == [], leftovers  # 8.0's nn/plugforge_blocks/ package included
    print(f"\n{key}: patched, {built}, unpatched to its bytes")


def test_anchors_lists_channels_at_every_scale_and_strides_with_ultralytics(site, tmp_path):
    ultralytics = site("ultralytics")
    source = ultralytics.root / "ultralytics" / "cfg" / "models" / "v8" / "yolov8.yaml"
    with ultralytics.imports():
        result = invoke("anchors", source)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["INDEX", "FROM", "MODULE", "ARGS", *(f"C({s})" for s in "nsmlx"), "STRIDE", "COMMENT"]
    assert re.search(r"^11 .*Concat .* 384 +768 +960 +1024 +1280 +16 +cat backbone P4$", lines[12])  # n..x, stride
    assert lines[23].startswith("22 ") and "Detect" in lines[23]
