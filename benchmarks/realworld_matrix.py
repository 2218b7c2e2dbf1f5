"""The real-network matrix of issue 13: every wireable block x a spread of real classes.

Insert blocks are wired after a named anchor of eight classes (torchvision,
timm, Ultralytics, segmentation_models_pytorch), and every conv-like block
replaces the 3x3 convs of eleven real convs (tests/realworld/matrix.py lists
them). Each cell runs `plugforge add --inline` on a throwaway copy of the package
(pinned; downloaded once into the cache, see tests/realworld/packages.py), then
builds the package's own full model, runs it forward in eval mode and forward +
backward in train mode. Prints the counts per matrix and every cell that is not
wired: refusals with plugforge's message, failures with the error.

Goal: no written model fails; each cell is wired, or refused with a message that
names the setting, size or layer that works.

    python benchmarks/realworld_matrix.py [--matrix insert replace] [--block ID ...] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from tests.realworld.harness import WIRED, Outcome, table  # noqa: E402
from tests.realworld.matrix import Sites, cells, judged, summary  # noqa: E402
from tests.realworld.packages import Unavailable  # noqa: E402


def run(kind: str, sites: Sites, blocks: list[str] | None) -> list[Outcome]:
    outcomes = []
    for case in cells(kind):
        if blocks and case.block not in blocks:
            continue
        start = time.perf_counter()
        try:
            outcome = sites.run(case)
        except Unavailable as error:
            print(f"skipped {case.id}: {error}", file=sys.stderr)
            continue
        took = time.perf_counter() - start
        detail = "" if outcome.status == WIRED else " " + " ".join(outcome.detail.split())[:300]
        print(f"{judged(outcome):<11} {took:5.1f}s {case.id}{detail}", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    return outcomes


def report(kind: str, outcomes: list[Outcome]) -> str:
    lines = [f"{kind}: {summary(outcomes)}"]
    for outcome in outcomes:
        status = judged(outcome)
        if status != WIRED:
            what = f"{outcome.case.cls}.{outcome.case.anchor} {outcome.case.block}"
            lines.append(f"  {status:<11} {outcome.case.package:<12} {what:<50} {' '.join(outcome.detail.split())}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matrix", nargs="+", choices=("insert", "replace"), default=["insert", "replace"])
    parser.add_argument("--block", nargs="+", help="only these blocks")
    parser.add_argument("--markdown", type=Path, help="also write the table of every cell to this file")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="plugforge-matrix-") as folder:
        sites = Sites(Path(folder))
        for kind in args.matrix:
            results[kind] = run(kind, sites, args.block)
    print("\n\n".join(report(kind, outcomes) for kind, outcomes in results.items()))
    if args.markdown:
        args.markdown.write_text(table([o for outcomes in results.values() for o in outcomes]), encoding="utf-8")


if __name__ == "__main__":
    main()
