"""What a rendered block's docstring says, and what only `info` says."""

import re

import pytest

from plugforge.catalog import load_catalog
from plugforge.describe import info
from plugforge.render import docstring

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
