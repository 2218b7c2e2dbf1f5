"""Every wireable block inside real networks: wired and working, or refused with what works (issue 13).

A deterministic spread of the matrix of tests/realworld/matrix.py, with every
insert block and every conv-like block in it, and every class and conv of the
matrix: block ``i`` goes into host ``i mod n``. Each cell runs ``plugforge add
--inline`` on a throwaway copy of the package as a user would, then builds the
package's own full model and runs it (eval forward, train forward and backward).
A cell passes when the model builds, runs and trains, or when plugforge refused
with a message naming a setting, size or layer that works and changed nothing.
benchmarks/realworld_matrix.py runs every cell and prints the counts.
"""

import pytest

from tests.realworld.harness import REFUSED, WIRED
from tests.realworld.matrix import Sites, judged, spread
from tests.realworld.packages import Unavailable

pytestmark = pytest.mark.realworld

def _cells():
    for case in spread("insert") + spread("replace"):
        yield pytest.param(case, id=case.id)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """One copy of each package for the whole module; each cell's file is put back after it."""
    return Sites(tmp_path_factory.mktemp("matrix"))


@pytest.mark.parametrize("case", list(_cells()))
def test_block_in_real_network(case, sites, results):
    try:
        outcome = sites.run(case)
    except Unavailable as error:
        pytest.skip(str(error))
    results.append(outcome)
    status = judged(outcome)
    assert status in (WIRED, REFUSED), f"{status}, chose {outcome.wired or 'nothing'}:\n{outcome.detail}"
