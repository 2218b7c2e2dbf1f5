"""Stand-in blocks and helpers shared by the wiring tests.

The real blocks come from the catalog renderer; these tiny ones keep the wiring
tests independent of it while exercising the same contract (``Block`` + ``Source``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from plugforge import wiring
from plugforge.project import import_for
from plugforge.wire import Block, Result, Source

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

GATE_CODE = '''import torch
import torch.nn.functional as F
from torch import nn


def _hidden(channels, reduction):
    return max(channels // reduction, 1)


class Gate(nn.Module):
    """Channel gate (squeeze-excite like); keeps the shape of its input."""

    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(channels, _hidden(channels, reduction)),
            nn.ReLU(inplace=True),
            nn.Linear(_hidden(channels, reduction), channels),
        )

    def forward(self, x):
        weights = torch.sigmoid(self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1)))
        return x * weights[:, :, None, None]
'''

CONV3_CODE = '''from torch import nn


class Conv3(nn.Module):
    """Conv-like block: pads itself, so it keeps the size at stride 1."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False)

    def forward(self, x):
        return self.conv(x)
'''

POOL_CODE = '''import torch.nn.functional as F
from torch import nn


class Pool(nn.Module):
    """Pooling-like block with a channel count (as BlurPool has)."""

    def __init__(self, channels, kernel_size=2, stride=2):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.mix = nn.Conv2d(channels, channels, 1, groups=channels, bias=False)

    def forward(self, x):
        return self.mix(F.avg_pool2d(x, self.kernel_size, self.stride, self.kernel_size // 2))
'''

TOKEN_CODE = '''import torch
from torch import nn


class TokenScale(nn.Module):
    """Token block: scales the last (channel) dimension."""

    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.scale
'''

GATE = Block("Gate", "insert", ("channels", "reduction"), {"reduction": "2"})
CONV3 = Block("Conv3", "replace", ("in_channels", "out_channels", "kernel_size", "stride"), {})
POOL = Block("Pool", "replace", ("channels", "kernel_size", "stride"), {})
TOKEN = Block("TokenScale", "insert", ("dim",), {})

STAND_INS = {
    "gate": (GATE, GATE_CODE),
    "conv3": (CONV3, CONV3_CODE),
    "pool": (POOL, POOL_CODE),
    "token": (TOKEN, TOKEN_CODE),
}


def said(result: Result) -> list[str]:
    """The result's messages as the user reads them: the wire package names fields, plugforge.wiring words them."""
    return [wiring.worded(message) for message in result.messages]


def read(path: Path) -> str:
    """A file's text exactly as stored (CRLF and BOM kept)."""
    with path.open(encoding="utf-8", newline="") as stream:
        return stream.read()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write(text)
    return path


def corpus_source(name: str) -> str:
    return read(CORPUS / name)


def inline_source(block_id: str) -> Source:
    return Source(inline_code=STAND_INS[block_id][1])


def vendor(model_path: Path, block_id: str) -> Source:
    """Write the stand-in block beside the model as ``blocks/<id>.py`` and return its import."""
    block_file = write(model_path.parent / "blocks" / f"{block_id}.py", STAND_INS[block_id][1])
    spec = import_for(model_path, block_file)
    for init in spec.missing_inits:
        write(init, "")
    return Source(module=spec.module, level=spec.level)


def import_module(root: Path, name: str):
    """Import ``name`` with ``root`` first on sys.path (the caller restores sys.path/modules)."""
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return importlib.import_module(name)
