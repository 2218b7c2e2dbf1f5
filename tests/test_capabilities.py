"""What a block can be used for is decided once, by its spec; add, bench and the benchmarks agree with it."""

from __future__ import annotations

import dataclasses

import pytest

from plugforge import wiring
from plugforge.catalog.spec import Contract, load_catalog
from plugforge.errors import PlugforgeError
from plugforge.roles import ROLES, WIRED

CATALOG = load_catalog()
SE = CATALOG.get("se")
# Every kind of block, from the catalog and from one changed entry per way of not fitting one layer.
VARIANTS = [
    *CATALOG.specs,
    dataclasses.replace(SE, id="se_fuse", role="fuse"),
    dataclasses.replace(SE, id="se_utility", role="utility"),
    dataclasses.replace(SE, id="se_two_inputs", input=dataclasses.replace(SE.input, names=("x", "skip"))),
    dataclasses.replace(SE, id="se_bcnt", input=Contract("BCNT", "channels")),
]


def _refusal(check, spec) -> str | None:
    try:
        check(spec)
    except PlugforgeError as error:
        return str(error)
    return None


def test_the_catalog_uses_every_role_and_wires_a_subset_of_them():
    assert set(WIRED) < set(ROLES) == {spec.role for spec in CATALOG.specs}


@pytest.mark.parametrize("spec", VARIANTS, ids=lambda spec: spec.id)
def test_add_bench_and_the_benchmarks_take_exactly_the_blocks_that_take_one_map(spec):
    torch = pytest.importorskip("torch")  # noqa: F841  (bench and the benchmarks run blocks)
    from benchmarks.blocks import UNFIT, skip_reason
    from plugforge.measure import checking

    one_map = spec.role in WIRED and not spec.multi_input and spec.input.layout in ("NCHW", "any")
    assert spec.takes_one_map == one_map
    assert (_refusal(wiring._check_wireable, spec) is None) == one_map
    assert (_refusal(checking._check_benchable, spec) is None) == one_map
    assert (skip_reason(spec) is None) == (one_map and spec.id not in UNFIT)


@pytest.mark.parametrize(
    "variant, add_says, bench_says",
    [
        ("se_fuse", "fuses several feature maps", "bench cannot feed it one input"),
        ("se_two_inputs", "fuses several feature maps", "bench cannot feed it one input"),
        ("se_utility", "is a utility function, not a layer", "there is nothing to bench"),
        ("se_bcnt", "works on BCNT tensors", "bench feeds (B, C, H, W) maps only"),
    ],
)
def test_each_caller_words_its_own_refusal(variant, add_says, bench_says):
    pytest.importorskip("torch")
    from plugforge.measure import checking

    spec = next(spec for spec in VARIANTS if spec.id == variant)
    assert add_says in _refusal(wiring._check_wireable, spec)
    assert bench_says in _refusal(checking._check_benchable, spec)
