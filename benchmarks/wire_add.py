"""Benchmark: ``plugforge add`` on a 2,000+ line model file, against the floor.

The floor is what any libcst-based rewrite must pay: start Python, import libcst,
parse the file and print it back. Two things are measured against it, each in a
fresh interpreter: the wiring layer alone (import plugforge.wire, read, add,
print) and the whole command a user runs (``python -m plugforge add se --into
model.py ...``: click, catalog, the vendored block, wiring, writing), once with
an empty render cache ("cli cold": Jinja and black render the block) and once
with the block already cached ("cli warm": every later ``add`` of that block).
Runs alternate; ratios of the minimum times are reported (the minimum is the
least noisy estimate on a shared machine). Target: at most 1.3x.

    python benchmarks/wire_add.py [--runs 15]
    python benchmarks/wire_add.py --real PATH --class C --after ATTR [--runs 15]

With ``--real``, the file is a model file of an installed or unpacked package (e.g.
timm's ``models/resnet.py``, 2,303 lines): "wire" then follows its imports across
modules (``path=`` given), "same-file" is the wiring without them, and the files the
cross-module resolution parsed are counted.

Run it with the interpreter of a regular install (``pip install .``): an editable
install adds its import finder (about 10 ms) to every plugforge start-up.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"

ADD = """
import sys
from plugforge.wire import Block, Source, add
text = open(sys.argv[1], encoding="utf-8").read()
block = Block("Gate", "insert", ("channels", "reduction"), {"reduction": "8"})
sys.stdout.write(add(text, block, Source(module="blocks.gate"), name="gate", class_name="Bottleneck7").source[:0])
"""
REAL = """
import sys
from pathlib import Path
from plugforge.wire import Block, Source, add
path, class_name, after, follow = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
text = Path(path).read_text(encoding="utf-8")
block = Block("Gate", "insert", ("channels", "reduction"), {"reduction": "8"})
result = add(text, block, Source(module="blocks.gate"), name="gate", class_name=class_name, after=after,
             path=path if follow else None)
sys.stdout.write(result.source[:0])
"""
FILES_PARSED = """
import sys
from pathlib import Path
from unittest import mock
from plugforge.wire import Block, Source, add, modules
parsed = []
original = modules._parsed
with mock.patch.object(modules, "_parsed", lambda name, *rest: parsed.append(name) or original(name, *rest)):
    text = Path(sys.argv[1]).read_text(encoding="utf-8")
    block = Block("Gate", "insert", ("channels", "reduction"), {"reduction": "8"})
    result = add(text, block, Source(module="blocks.gate"), name="gate", class_name=sys.argv[2], after=sys.argv[3],
                 path=sys.argv[1])
print(next(m for m in result.messages if m.startswith("channels")))
print(f"{len(parsed)} other files parsed: {', '.join(parsed)}")
"""
FLOOR = """
import sys
import libcst
sys.stdout.write(libcst.parse_module(open(sys.argv[1], encoding="utf-8").read()).code[:0])
"""


def large_model(copies: int = 20) -> str:
    """The ResNet corpus file with its helpers and classes repeated under new names."""
    header, body = (CORPUS / "resnet.py").read_text().split("\n\n\ndef conv3x3", 1)
    names = re.compile(r"\b(BasicBlock|Bottleneck|ResNet|conv3x3|conv1x1)\b")
    parts = [names.sub(lambda match: f"{match.group(1)}{i}", "def conv3x3" + body) for i in range(copies)]
    return "\n\n\n".join([header, *parts])


def timed(script: str, model: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, str(model), *args], check=True)
    return time.perf_counter() - start


def timed_cli(model: Path, text: str, cache: Path, cold: bool) -> float:
    """The full command on a fresh copy of the model (no blocks/ yet)."""
    model.write_text(text, encoding="utf-8")
    shutil.rmtree(model.parent / "blocks", ignore_errors=True)
    if cold:
        shutil.rmtree(cache, ignore_errors=True)
    command = [sys.executable, "-m", "plugforge", "add", "se", "--into", str(model), "--class", "Bottleneck7", "--after", "bn3"]
    start = time.perf_counter()
    env = {**os.environ, "PLUGFORGE_CACHE_DIR": str(cache)}
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def report(name: str, times: list[float], floors: list[float]) -> None:
    ratio = min(times) / min(floors), statistics.median(times) / statistics.median(floors)
    print(f"{name:<8} min {min(times):.3f}s  median {statistics.median(times):.3f}s  ratio {ratio[0]:.2f}x / {ratio[1]:.2f}x")


def real_file(path: Path, class_name: str, after: str, runs: int) -> None:
    """``add`` on a real package file, with and without following its imports."""
    follow, same, floors = [], [], []
    for _ in range(runs):
        floors.append(timed(FLOOR, path))
        follow.append(timed(REAL, path, class_name, after, "1"))
        same.append(timed(REAL, path, class_name, after, "0"))
    print(f"model: {path} ({len(path.read_text(encoding='utf-8').splitlines())} lines), {runs} alternating runs each")
    report("floor", floors, floors)
    report("wire", follow, floors)
    report("same-file", same, floors)
    subprocess.run([sys.executable, "-c", FILES_PARSED, str(path), class_name, after], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--real", type=Path, help="a model file of a real package")
    parser.add_argument("--class", dest="class_name")
    parser.add_argument("--after")
    options = parser.parse_args()
    runs = options.runs
    if options.real:
        real_file(options.real, options.class_name, options.after, runs)
        return
    with tempfile.TemporaryDirectory() as directory:
        model = Path(directory) / "model.py"
        text = large_model()
        model.write_text(text, encoding="utf-8")
        cache = Path(directory) / "cache"
        adds, colds, warms, floors = [], [], [], []
        for _ in range(runs):
            floors.append(timed(FLOOR, model))
            adds.append(timed(ADD, model))
            colds.append(timed_cli(model, text, cache, cold=True))
            warms.append(timed_cli(model, text, cache, cold=False))
            model.write_text(text, encoding="utf-8")
    print(f"model: {len(text.splitlines())} lines, {runs} alternating runs each (ratio: min / median)")
    report("floor", floors, floors)
    report("wire", adds, floors)
    report("cli cold", colds, floors)
    report("cli warm", warms, floors)


if __name__ == "__main__":
    main()
