"""The real-network matrix (issue 13): every wireable block in a spread of real classes.

Insert blocks go after a named anchor of eight classes of torchvision, timm,
Ultralytics and segmentation_models_pytorch; conv-like blocks replace the 3x3 convs
of real classes. Each cell runs ``plugforge add --inline`` on a copy of the
package's file as a user would, then builds the package's own full model, runs it
forward in eval mode and forward + backward in train mode (tests/realworld/harness.py).

A cell is ``wired`` (the model builds, runs and trains), ``refused`` (plugforge
refused with a message that names a setting, size or layer that works, and changed
nothing), or a failure: ``failing`` (written, then the model failed), ``broken``
(plugforge crashed, or refused and changed files) or ``unexplained`` (refused without
naming what works).

Shared by tests/realworld/test_matrix.py (a spread of cells) and
benchmarks/realworld_matrix.py (every cell).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plugforge.catalog.spec import load_catalog
from tests.realworld.cases import TIMM, TV, ULTRA, SMP, Case, smp, timm, torchvision, yolo
from tests.realworld.harness import BROKEN, FAILING, REFUSED, WIRED, Outcome, survey
from tests.realworld.site import Site

UNEXPLAINED = "unexplained"
STATUSES = (WIRED, REFUSED, FAILING, BROKEN, UNEXPLAINED)

def _resnet(block: str) -> Callable[[], Any]:
    """torchvision's ResNet with one block per stage: the widths of ResNet-50 (or 18), a quarter of the work."""

    def build() -> Any:
        resnet = importlib.import_module("torchvision.models.resnet")
        return resnet.ResNet(getattr(resnet, block), [1, 1, 1, 1])

    return build


_RESNET50, _RESNET18 = _resnet("Bottleneck"), _resnet("BasicBlock")
_YOLO = yolo("yolov8n.yaml")

INSERT_CLASSES = [
    Case("torchvision", TV + "resnet.py", "Bottleneck", "bn3", _RESNET50),
    Case("torchvision", TV + "mobilenetv2.py", "InvertedResidual", "conv", torchvision("mobilenet_v2")),
    Case("torchvision", TV + "shufflenetv2.py", "InvertedResidual", "branch2", torchvision("shufflenet_v2_x0_5")),
    Case("timm", TIMM + "resnet.py", "BasicBlock", "bn2", timm("resnet18")),
    Case("timm", TIMM + "_efficientnet_blocks.py", "InvertedResidual", "bn3", timm("efficientnet_b0")),
    Case("ultralytics", ULTRA + "conv.py", "Conv", "bn", _YOLO),
    Case("ultralytics", ULTRA + "block.py", "Bottleneck", "cv2", _YOLO),
    Case("segmentation_models_pytorch", SMP + "decoders/unet/decoder.py", "UnetDecoderBlock", "conv2", smp("Unet")),
]

REPLACE_CONVS = [
    Case("torchvision", TV + "resnet.py", "Bottleneck", "conv2", _RESNET50, replace=True,
         note="conv3x3(width, width, stride, groups, dilation): a helper of the same file"),
    Case("torchvision", TV + "resnet.py", "BasicBlock", "conv1", _RESNET18, replace=True,
         note="conv3x3(inplanes, planes, stride): in and out differ in the first block of a stage"),
    Case("torchvision", TV + "resnet.py", "BasicBlock", "conv2", _RESNET18, replace=True),
    Case("torchvision", TV + "densenet.py", "_DenseLayer", "conv2", torchvision("densenet121"), replace=True,
         note="bn_size * growth_rate -> growth_rate"),
    Case("timm", TIMM + "resnet.py", "BasicBlock", "conv1", timm("resnet18"), replace=True,
         note="padding=first_dilation, dilation=first_dilation"),
    Case("timm", TIMM + "resnet.py", "BasicBlock", "conv2", timm("resnet18"), replace=True),
    Case("timm", TIMM + "dla.py", "DlaBasic", "conv2", timm("dla34"), replace=True, note="nn.Conv2d with dilation"),
    Case("timm", TIMM + "_efficientnet_blocks.py", "DepthwiseSeparableConv", "conv_dw", timm("efficientnet_b0"),
         replace=True, note="create_conv2d(...), depthwise"),
    Case("ultralytics", ULTRA + "conv.py", "Conv", "conv", _YOLO, replace=True,
         note="nn.Conv2d(c1, c2, k, s, autopad(k, p, d), ...): k is 1, 3 or a tuple in yolov8n"),
    Case("ultralytics", ULTRA + "block.py", "Bottleneck", "cv2", _YOLO, replace=True, note="Conv, a class"),
    Case("segmentation_models_pytorch", SMP + "decoders/unet/decoder.py", "UnetDecoderBlock", "conv1", smp("Unet"),
         replace=True, note="md.Conv2dReLU, an nn.Sequential subclass"),
]


def wireable(role: str) -> list[str]:
    """Ids of the catalog's blocks of ``role`` that ``add`` can wire into a 2-D CNN."""
    return [s.id for s in load_catalog().specs if s.role == role and s.input.layout in ("NCHW", "any")]


def cells(kind: str) -> list[Case]:
    """Every cell of the ``insert`` or ``replace`` matrix, class by class."""
    hosts, role = (INSERT_CLASSES, "insert") if kind == "insert" else (REPLACE_CONVS, "replace")
    return [dataclasses.replace(host, block=block) for host in hosts for block in wireable(role)]


def spread(kind: str) -> list[Case]:
    """A deterministic part of the matrix with every block and every host in it: block ``i`` in host ``i mod n``."""
    hosts, role = (INSERT_CLASSES, "insert") if kind == "insert" else (REPLACE_CONVS, "replace")
    return [dataclasses.replace(hosts[i % len(hosts)], block=block) for i, block in enumerate(wireable(role))]


# A refusal must say what works: a setting, an option giving a size or width, or another layer.
_FIX = re.compile(r"--(set|channels|input|check|build|after|before|replace|inline)\b|\b\w+=\S|\b(choose|use|rename)\b")


def judged(outcome: Outcome) -> str:
    """The cell's status: a refusal that names no fix counts as ``unexplained``."""
    if outcome.status == REFUSED and not _FIX.search(outcome.detail):
        return UNEXPLAINED
    return outcome.status


class Sites:
    """One site per package, reused by every cell: the file a cell rewrites is put back before the next."""

    def __init__(self, root: Path):
        self.root = root
        self._sites: dict[str, Site] = {}
        self._pristine: dict[Path, bytes] = {}

    def run(self, case: Case) -> Outcome:
        site = self._sites.get(case.package)
        if site is None:
            site = self._sites[case.package] = Site(self.root / case.package, [case.package])
        with self._restored(site.root / case.file):
            return survey(case, site, inline=True)

    @contextmanager
    def _restored(self, path: Path) -> Iterator[None]:
        self._pristine.setdefault(path, path.read_bytes())
        try:
            yield
        finally:
            path.unlink()  # a private copy: the site's hard link into the cache is never written
            path.write_bytes(self._pristine[path])


def counts(outcomes: list[Outcome]) -> Counter:
    return Counter(judged(o) for o in outcomes)


def summary(outcomes: list[Outcome]) -> str:
    """``N wired / N refused / N failing ... of N``."""
    found = counts(outcomes)
    parts = [f"{found[status]} {status}" for status in STATUSES if found[status] or status in (WIRED, REFUSED, FAILING)]
    return " / ".join(parts) + f" of {len(outcomes)}"
