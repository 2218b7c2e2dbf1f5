"""Survey: how many real classes `plugforge add` wires with no --channels, and whether their models still run.

Runs the cases of tests/realworld/cases.py outside pytest. For each, the
package (pinned; downloaded once into the cache, see tests/realworld/packages.py)
is copied into a fresh folder, `plugforge add` is run on the class's file as a
user would, and the package's own full model is built with the block in it and
run (eval forward, train forward and backward). Prints, per package: the classes
tried, those wired with no --channels (and the channel expression chosen), those
refused (with plugforge's message) and those written but failing (with the error),
then the cases plugforge must refuse.

The goal (issue 12): at least 95% of the classes with a named anchor wired with no
--channels, and every one of them still building and running in its package's
full model.

    python benchmarks/realworld_wiring.py [--inline] [--package timm ...] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from tests.realworld.cases import CASES, EXTRA_CASES, Case  # noqa: E402
from tests.realworld.harness import BROKEN, FAILING, REFUSED, WIRED, Outcome, explained, survey, table  # noqa: E402
from tests.realworld.packages import PACKAGES, Unavailable  # noqa: E402
from tests.realworld.site import Site  # noqa: E402

TARGET = 0.95


def run(case: Case, inline: bool) -> Outcome | None:
    """The case's outcome in a fresh temporary site; None (and a note) when its package is unavailable."""
    with tempfile.TemporaryDirectory(prefix="plugforge-realworld-") as folder:
        try:
            site = Site(Path(folder) / "site", [case.package])
        except Unavailable as error:
            print(f"skipped {case.id}: {error}", file=sys.stderr)
            return None
        return survey(case, site, inline)


def report(outcomes: list[Outcome]) -> str:
    by_package: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_package[outcome.case.package].append(outcome)
    lines = []
    for package, group in by_package.items():
        goal = [o for o in group if o.case.expect == WIRED]
        counts = {status: sum(o.status == status for o in goal) for status in (WIRED, REFUSED, FAILING, BROKEN)}
        lines.append(f"{package}: {len(goal)} tried, " + ", ".join(f"{n} {status}" for status, n in counts.items()))
        lines += [_line(o) for o in goal]
    lines += ["", "must be refused (no single expression fits):"]
    lines += [_line(o) for o in outcomes if o.case.expect == REFUSED]
    return "\n".join(lines) + "\n\n" + _verdict(outcomes)


def _line(outcome: Outcome) -> str:
    case = outcome.case
    what = f"{case.cls}.{case.anchor} ({'replace by ' if case.replace else ''}{case.block})"
    said = outcome.wired if outcome.status == WIRED else " ".join(outcome.detail.split())
    return f"  {outcome.status:<8} {what:<45} {said}"


def _verdict(outcomes: list[Outcome]) -> str:
    goal = [o for o in outcomes if o.case.expect == WIRED]
    wired = sum(o.status == WIRED for o in goal)
    failing = sum(o.status not in (WIRED, REFUSED) for o in goal)
    refusals = [o for o in outcomes if o.case.expect == REFUSED]
    share = wired / len(goal) if goal else 0.0
    return (
        f"wired with no --channels and running: {wired}/{len(goal)} ({share:.0%}; target >= {TARGET:.0%})\n"
        f"written but failing, or plugforge broke: {failing} (target 0)\n"
        f"refused as they must be, with a message naming the class or anchor: {sum(map(explained, refusals))}/{len(refusals)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inline", action="store_true", help="wire with --inline instead of vendoring into blocks/")
    parser.add_argument("--package", nargs="+", choices=sorted(PACKAGES), help="only these packages")
    parser.add_argument("--markdown", type=Path, help="also write the table of every case to this file")
    args = parser.parse_args()
    cases = [c for c in CASES + EXTRA_CASES if not args.package or c.package in args.package]
    outcomes = []
    for case in cases:
        outcome = run(case, args.inline)
        if outcome:
            print(f"{outcome.status:<8} {case.id}", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    print(report(outcomes))
    if args.markdown:
        args.markdown.write_text(table(outcomes), encoding="utf-8")


if __name__ == "__main__":
    main()
