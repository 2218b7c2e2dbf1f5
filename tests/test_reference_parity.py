"""Rendered blocks compute what well-known implementations (timm, torchvision) compute.

For each pair in ``benchmarks/references.py``: random weights, norm affines and
running statistics in the reference, copied into the rendered block; both in eval
mode on the same random input; max abs difference <= 1e-5 (float32). Differences
by design are pinned in the table (each entry's ``note`` says what); a pair that
cannot be pinned is not in the table, and its entry documents the difference.

Where timm or torchvision is not installed (as in CI), the pinned wheels of the
real-world suite are imported (tests/realworld/packages.py, downloaded once into its
cache); skipped as a whole, with the reason, when they cannot be downloaded.
"""

import importlib.util
import sys

import pytest
import torch

from benchmarks.references import (
    REFERENCES,
    build_block,
    import_references,
    parity_inputs,
    randomize_,
    torchvision_ops_available,
)
from tests.realworld.packages import Unavailable, check_modules, unpacked



def _pinned_references() -> None:
    """timm and torchvision, where not installed, from the real-world suite's pinned wheels (downloaded once)."""
    for key in ("torchvision", "timm"):
        if importlib.util.find_spec(key) is None:
            check_modules(key)
            sys.path.append(str(unpacked(key)))


try:
    _pinned_references()
    import_references()
except (ImportError, Unavailable) as error:
    pytest.skip(f"reference implementations not importable: {error}", allow_module_level=True)

TOLERANCE = 1e-5
WEIGHTED = [r for r in REFERENCES if not r.needs_ops and any(True for _ in r.make(r.channels).parameters())]


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("ref", REFERENCES, ids=lambda r: r.label)
def test_rendered_block_matches_reference(ref):
    if ref.needs_ops and not torchvision_ops_available():
        pytest.skip(f"{ref.name} needs torchvision's compiled ops, which do not load with this torch")
    torch.manual_seed(0)
    reference = randomize_(ref.make(ref.channels)).eval()
    block = build_block(ref.block, ref.channels, ref.settings(ref.channels)).eval()
    ref.copy(reference, block)
    inputs = parity_inputs(ref)
    with torch.no_grad():
        expected, got = _as_tuple(reference(*inputs)), _as_tuple(block(*inputs))
    select = ref.select or (lambda y: y)
    assert [e.shape for e in expected] == [g.shape for g in got]
    for e, g in zip(expected, got):
        diff = (select(e) - select(g)).abs().max().item()
        assert diff <= TOLERANCE, f"{ref.label}: max abs diff {diff:.3g} ({ref.note or 'no known difference'})"


@pytest.mark.parametrize("ref", WEIGHTED, ids=lambda r: r.label)
def test_parity_is_not_vacuous(ref):
    """With its own (random) weights instead of the reference's, the block's output differs."""
    torch.manual_seed(0)
    reference = randomize_(ref.make(ref.channels), seed=0).eval()
    block = randomize_(build_block(ref.block, ref.channels, ref.settings(ref.channels)), seed=1).eval()
    inputs = parity_inputs(ref)
    with torch.no_grad():
        expected, got = _as_tuple(reference(*inputs)), _as_tuple(block(*inputs))
    select = ref.select or (lambda y: y)
    assert max((select(e) - select(g)).abs().max().item() for e, g in zip(expected, got)) > 1e-3
