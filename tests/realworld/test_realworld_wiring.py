"""`plugforge add` on real classes of timm, torchvision, Ultralytics, smp, pytorchcv and MONAI.

Each case copies its package (pinned, downloaded once into a cache) into a fresh
site, runs the CLI on the copied file as a user would, vendored and then with
``--inline``, with no ``--channels``. A wired case must exit 0; then the
package's own full model is built from the site and must run in eval mode and
train (forward and backward), with every block it wired called and given
gradients. A refused case must exit 1 with a message that names the class or the
anchor, and leave the files as they were. Outcomes and the channel expressions plugforge chose are written to
``realworld-results.md`` / ``.json`` in pytest's base tmp folder.
"""

import pytest

from tests.realworld.cases import CASES, EXTRA_CASES
from tests.realworld.harness import REFUSED, WIRED, explained, survey

pytestmark = pytest.mark.realworld


@pytest.mark.parametrize("inline", [False, True], ids=["vendored", "inline"])
@pytest.mark.parametrize("case", CASES + EXTRA_CASES, ids=lambda case: case.id)
def test_wire_real_class(case, inline, site, results):
    outcome = survey(case, site(case.package), inline)
    results.append(outcome)
    expected = REFUSED if case.expect == REFUSED else WIRED
    assert outcome.status == expected, f"{outcome.status}, chose {outcome.wired or 'nothing'}:\n{outcome.detail}"
    if expected == REFUSED:
        assert explained(outcome), f"the message names neither {case.cls} nor {case.anchor}: {outcome.detail}"
