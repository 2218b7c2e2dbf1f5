import json
from collections import Counter

import pytest

from tests.realworld.harness import Outcome, table
from tests.realworld.packages import Unavailable
from tests.realworld.site import Site

_RESULTS = pytest.StashKey[list[Outcome]]()
_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture
def site(tmp_path):
    """``site(package)``: the package and those it needs, copied into this test's folder.

    Skips the test when the package cannot be downloaded or a module it imports is
    missing. ``Site.imports()`` puts the site first on sys.path and restores
    sys.modules, sys.path and the environment afterwards.
    """

    def make(package: str) -> Site:
        try:
            return Site(tmp_path / "site", [package])
        except Unavailable as error:
            pytest.skip(str(error))

    return make


@pytest.fixture(scope="session")
def results(request, tmp_path_factory):
    """Every outcome of the session, written as JSON and markdown under the session's tmp folder at the end."""
    outcomes: list[Outcome] = []
    request.config.stash[_RESULTS] = outcomes
    yield outcomes
    base = tmp_path_factory.getbasetemp()
    rows = [{"case": o.case.id, "mode": o.mode, "status": o.status, "chose": o.wired, "detail": o.detail} for o in outcomes]
    (base / "realworld-results.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    (base / "realworld-results.md").write_text(table(outcomes), encoding="utf-8")
    request.config.stash[_REPORTS] = [str(base / "realworld-results.md"), str(base / "realworld-results.json")]


def pytest_terminal_summary(terminalreporter, config):
    outcomes = config.stash.get(_RESULTS, [])
    if not outcomes:
        return
    terminalreporter.section("real-world wiring")
    for mode in ("vendored", "inline"):
        counts = Counter(o.status for o in outcomes if o.mode == mode)
        terminalreporter.write_line(f"{mode}: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    for o in outcomes:
        if o.status != o.case.expect:
            terminalreporter.write_line(f"  {o.case.id} [{o.mode}] {o.status}: {' '.join(o.detail.split())[:160]}")
    for path in config.stash.get(_REPORTS, []):
        terminalreporter.write_line(f"table: {path}")
