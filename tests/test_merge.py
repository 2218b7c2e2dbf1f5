"""The 3-way merge behind `plugforge update`: real edit scenarios, edge cases, properties."""

import random

import pytest

from plugforge.rendering.merge import Merged, merge3

BLOCK = '''\
"""Squeeze-and-excitation: channel attention from Hu et al., 2018."""

import torch
from torch import nn


class SEBlock(nn.Module):
    """Rescale channels by weights computed from their global average.

    Args:
        channels: number of input channels.
        reduction: how much the hidden layer shrinks the channels.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _, _ = x.shape
        w = self.pool(x).view(b, c)
        w = self.fc(w).view(b, c, 1, 1)
        return x * w


if __name__ == "__main__":
    block = SEBlock(64)
    y = block(torch.randn(2, 64, 8, 8))
    assert y.shape == (2, 64, 8, 8)
'''
RELU = "            nn.ReLU(inplace=True),\n"
GELU = "            nn.GELU(),\n"
CATALOG = BLOCK.replace(RELU, GELU)  # upstream swaps the activation


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def conflict(mine: str, base: str, theirs: str) -> str:
    return f"<<<<<<< yours\n{mine}||||||| base\n{base}=======\n{theirs}>>>>>>> catalog\n"


# -- realistic edits on a block file ------------------------------------------------------

ABOVE = ("reduction: int = 16", "reduction: int = 4")
INSIDE_NEAR = ("hidden = max(channels // reduction, 8)", "hidden = channels // reduction")
BELOW = ("return x * w", "return x * w.expand_as(x)")


@pytest.mark.parametrize(
    "old, new", [ABOVE, INSIDE_NEAR, BELOW], ids=["above", "close-above", "below"]
)
def test_user_edit_apart_from_the_catalog_change_merges_cleanly(old, new):
    mine = edit(BLOCK, old, new)
    assert merge3(BLOCK, mine, CATALOG) == Merged(edit(CATALOG, old, new), 0)


def test_user_edit_on_the_changed_line_is_one_conflict_with_three_sections():
    silu = "            nn.SiLU(inplace=True),\n"
    merged = merge3(BLOCK, edit(BLOCK, RELU, silu), CATALOG)
    assert merged.conflicts == 1
    assert merged.text == BLOCK.replace(RELU, conflict(silu, RELU, GELU))


def test_user_edit_right_next_to_the_catalog_change_conflicts_like_git():
    lin = "            nn.Linear(channels, hidden, bias=False),\n"
    lin_bias = lin.replace("bias=False", "bias=True")
    merged = merge3(BLOCK, edit(BLOCK, lin, lin_bias), CATALOG)
    assert merged.conflicts == 1
    assert conflict(lin_bias + RELU, lin + RELU, lin + GELU) in merged.text


def test_user_edits_above_and_below_together_with_the_catalog_change():
    mine = edit(edit(BLOCK, *ABOVE), *BELOW)
    catalog = edit(CATALOG, "hidden = max(channels // reduction, 8)", "hidden = channels // 2")
    assert merge3(BLOCK, mine, catalog) == Merged(edit(edit(catalog, *ABOVE), *BELOW), 0)


def test_user_adds_a_method_while_the_catalog_rewrites_the_docstring():
    method = "\n    def extra_repr(self) -> str:\n        return 'se'\n"
    mine = edit(BLOCK, "        return x * w\n", "        return x * w\n" + method)
    doc = "Rescale channels by weights computed from their global average."
    catalog = edit(BLOCK, doc, "Squeeze each channel to a scalar, excite, rescale.")
    merged = merge3(BLOCK, mine, catalog)
    assert merged == Merged(
        edit(mine, doc, "Squeeze each channel to a scalar, excite, rescale."), 0
    )
    assert method in merged.text


def test_user_deletes_a_line_the_catalog_modified():
    merged = merge3(BLOCK, edit(BLOCK, RELU, ""), CATALOG)
    assert merged == Merged(BLOCK.replace(RELU, conflict("", RELU, GELU)), 1)


def test_both_sides_delete_the_same_lines():
    merged = merge3(BLOCK, edit(BLOCK, RELU, ""), edit(BLOCK, RELU, ""))
    assert merged == Merged(edit(BLOCK, RELU, ""), 0)


def test_both_sides_make_the_same_change_once():
    assert merge3(BLOCK, CATALOG, CATALOG) == Merged(CATALOG, 0)


def test_crlf_files_merge_and_conflict_in_crlf():
    crlf = lambda text: text.replace("\n", "\r\n")  # noqa: E731
    mine = crlf(edit(BLOCK, *BELOW))
    assert merge3(crlf(BLOCK), mine, crlf(CATALOG)).text == crlf(edit(CATALOG, *BELOW))
    silu = "            nn.SiLU(inplace=True),\n"
    merged = merge3(crlf(BLOCK), crlf(edit(BLOCK, RELU, silu)), crlf(CATALOG))
    assert merged.text == crlf(BLOCK.replace(RELU, conflict(silu, RELU, GELU)))


def test_no_final_newline_is_kept_and_markers_stay_at_column_zero():
    base, catalog = BLOCK.rstrip("\n"), CATALOG.rstrip("\n")
    mine = edit(base, *ABOVE)
    assert merge3(base, mine, catalog) == Merged(edit(catalog, *ABOVE), 0)
    last = "    assert y.shape == (2, 64, 8, 8)"
    mine = edit(base, last, "    print(y.shape)")
    theirs = edit(base, last, "    assert y.shape == x.shape")
    merged = merge3(base, mine, theirs)
    assert merged.conflicts == 1
    assert merged.text.endswith(
        conflict("    print(y.shape)\n", last + "\n", "    assert y.shape == x.shape\n")
    )


# -- edge cases ---------------------------------------------------------------------------

ODD = "a\r\nform\x0cfeed \u2028 sep\nlast line"  # mixed endings, no final newline


@pytest.mark.parametrize("text", ["", "one", "x\n", ODD, BLOCK])
def test_identical_inputs(text):
    assert merge3(text, text, text) == Merged(text, 0)


@pytest.mark.parametrize("other", ["", ODD, CATALOG, "new\n" + BLOCK + "tail"])
def test_one_side_unchanged_takes_the_other_byte_for_byte(other):
    assert merge3(BLOCK, BLOCK, other) == Merged(other, 0)
    assert merge3(BLOCK, other, BLOCK) == Merged(other, 0)


def test_only_newline_ends_a_line_as_in_git():
    # splitlines() would also split at \f, \u2028 or a lone \r and merge these cleanly
    for sep in ("\x0c", "\u2028", "\r"):
        base, mine, theirs = (sep.join(parts) + "\n" for parts in ("axb", "axB", "Axb"))
        assert merge3(base, mine, theirs).conflicts == 1


def test_empty_files():
    assert merge3("", "", "") == Merged("", 0)
    assert merge3("", "mine\n", "") == Merged("mine\n", 0)
    assert merge3("a\n", "", "a\n") == Merged("", 0)
    assert merge3("", "same\n", "same\n") == Merged("same\n", 0)
    assert merge3("", "mine", "theirs") == Merged(conflict("mine\n", "", "theirs\n"), 1)


def test_insertions_at_start_and_end():
    mine, catalog = "# my header\n" + BLOCK, CATALOG + "# appended upstream\n"
    assert merge3(BLOCK, mine, catalog) == Merged("# my header\n" + catalog, 0)
    merged = merge3(BLOCK, "# mine\n" + BLOCK, "# theirs\n" + BLOCK)
    assert merged == Merged(conflict("# mine\n", "", "# theirs\n") + BLOCK, 1)


def test_labels_name_the_sections():
    text = merge3("a\n", "b\n", "c\n", labels=("local", "v0.3", "v0.4")).text
    assert text == "<<<<<<< local\nb\n||||||| v0.3\na\n=======\nc\n>>>>>>> v0.4\n"


# -- properties over random edits ---------------------------------------------------------


def random_edits(rng: random.Random, n: int, side: str) -> list[tuple[int, int, list[str]]]:
    """Edits (start, stop, new lines) to n base lines, with an untouched line between any two."""
    edits, pos = [], rng.randint(0, 3)
    while pos <= n:
        stop = pos + rng.randint(0, min(2, n - pos))  # stop == pos: a pure insertion
        new = [f"{side} {pos}.{k}\n" for k in range(rng.randint(stop == pos, 2))]
        edits.append((pos, stop, new))
        pos = stop + rng.randint(1, 6)
    return edits


def apply(base: list[str], edits: list[tuple[int, int, list[str]]]) -> list[str]:
    out, prev = [], 0
    for start, stop, new in edits:
        out += base[prev:start] + new
        prev = stop
    return out + base[prev:]


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(line in it for line in needles)


def test_property_nothing_the_user_wrote_is_lost():
    for seed in range(300):
        check_nothing_lost(seed)


def check_nothing_lost(seed: int) -> None:
    rng = random.Random(seed)
    base = [f"line {i}\n" for i in range(rng.randint(0, 20))] + ["\n"] * rng.randint(0, 2)
    rng.shuffle(base)
    mine = apply(base, random_edits(rng, len(base), "mine"))
    theirs = apply(base, random_edits(rng, len(base), "theirs"))
    merged = merge3("".join(base), "".join(mine), "".join(theirs))
    out = merged.text.splitlines(keepends=True)
    assert is_subsequence([line for line in mine if line.startswith("mine")], out), seed
    if is_subsequence(base, theirs):  # upstream only added lines: all of mine survives
        assert is_subsequence(mine, out), seed
    assert out.count("<<<<<<< yours\n") == out.count(">>>>>>> catalog\n") == merged.conflicts
    swapped = merge3("".join(base), "".join(theirs), "".join(mine))
    assert swapped.conflicts == merged.conflicts, seed
    if not merged.conflicts:
        assert merged.text == swapped.text, seed


def test_property_disjoint_edits_merge_cleanly_into_both():
    for seed in range(300):
        check_disjoint_edits(seed)


def check_disjoint_edits(seed: int) -> None:
    rng = random.Random(seed)
    base = [f"line {i}\n" for i in range(rng.randint(0, 20))]
    edits = random_edits(rng, len(base), "edit")
    sides = [rng.choice((True, False)) for _ in edits]
    mine = apply(base, [e for e, is_mine in zip(edits, sides) if is_mine])
    theirs = apply(base, [e for e, is_mine in zip(edits, sides) if not is_mine])
    eol = rng.choice(("\n", "\r\n"))
    join = lambda lines: "".join(lines).replace("\n", eol)  # noqa: E731
    merged = merge3(join(base), join(mine), join(theirs))
    assert merged == Merged(join(apply(base, edits)), 0), seed
