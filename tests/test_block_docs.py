"""What a rendered block's docstring says, and what only `info` says."""

import re

import pytest

from plugforge.catalog.describe import info
from plugforge.catalog.spec import load_catalog
from plugforge.rendering import render
from plugforge.rendering.render import docstring

# Parameters whose Args say they replace the Shape's formula: stn's out_size is the output's (H, W).
SIZE_SETTERS = {"stn": ("out_size",)}
LOADING = re.compile(r"\bload|checkpoint|state_dict", re.IGNORECASE)


def test_notes_on_other_implementations_are_in_info_not_in_the_docstring(catalog):
    se = catalog.get("se")
    assert "timm's SEModule rounds C/16" in info(se)
    assert "timm" not in docstring(se, se.defaults())


@pytest.mark.parametrize("spec", load_catalog().specs, ids=lambda s: s.id)
def test_no_docstring_explains_how_to_load_weights(spec):
    # The user's file keeps to the paper, the structure and deliberate deviations;
    # how timm's, torchvision's or the authors' weights load goes to the entry's notes.
    text = docstring(spec, spec.defaults())
    assert not LOADING.search(text), f"{spec.id}: move the weight-loading note to `notes`: {LOADING.search(text)[0]!r}"


@pytest.mark.parametrize("spec", load_catalog().specs, ids=lambda s: s.id)
def test_the_documented_output_shape_is_that_of_every_test_case(spec):
    # The rendered tests check each case's listed output; this checks the docstring's
    # formula against the same cases, so that the two cannot disagree.
    for case in () if spec.multi_input else spec.tests:
        if any(name in SIZE_SETTERS.get(spec.id, ()) for name in case.params):
            continue
        values = {**spec.defaults(), **case.params}
        for shape_in, shape_out in zip(case.inputs, case.outputs):
            documented = spec.output.output_shape(values, shape_in, spec.input.channels)
            assert documented in (None, tuple(shape_out)), f"{case.params} {shape_in}: Shape gives {documented}"


def test_the_documented_output_shape_follows_the_defaults(catalog):
    # nn.Conv2d's default padding 0 takes kernel_size - 1 off each side.
    dcn = catalog.get("dcn")
    assert render.documented_shape(dcn, dcn.defaults()) == ({"in_channels": 4, "out_channels": 6}, (2, 4, 9, 11), (2, 6, 7, 9))
