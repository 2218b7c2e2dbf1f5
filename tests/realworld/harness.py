"""Wire one case as a user would, then build and run the package's full model with the block in it.

Shared by tests/realworld/test_realworld_wiring.py and benchmarks/realworld_wiring.py.
"""

from __future__ import annotations

import importlib
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from plugforge.catalog.spec import find
from tests.conftest import invoke
from tests.realworld.cases import Case
from tests.realworld.site import Site

WIRED, REFUSED, FAILING, BROKEN = "wired", "refused", "failing", "broken"


@dataclass
class Outcome:
    """What happened to one case: ``status`` is one of WIRED, REFUSED, FAILING, BROKEN.

    FAILING: plugforge wrote the files but the model does not build, run or train,
    or the block is not in it. BROKEN: plugforge crashed, or refused and changed files.
    """

    case: Case
    inline: bool
    status: str
    wired: str = ""  # the constructor (or channel expression) plugforge chose
    detail: str = ""  # plugforge's message, or the error

    @property
    def mode(self) -> str:
        return "inline" if self.inline else "vendored"


def survey(case: Case, site: Site, inline: bool = False) -> Outcome:
    """Wire the case into its file in ``site`` with the CLI, then build and run the full model from the site."""
    model_file = site.own(case.file)
    before = _state(model_file)
    result = invoke(*cli_args(case, model_file, inline))
    output = result.output.strip()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        return Outcome(case, inline, BROKEN, detail=f"plugforge crashed:\n{trace}")
    if result.exit_code != 0:
        if _state(model_file) != before:
            return Outcome(case, inline, BROKEN, detail=f"refused but changed files: {output}")
        return Outcome(case, inline, REFUSED, detail=output)
    wired = chosen(output)
    try:
        with site.imports(), _one_thread():
            run_model(case, block_class(case))
    except Exception as error:  # noqa: BLE001 (any failure of the model is the finding)
        return Outcome(case, inline, FAILING, wired, _error(error))
    return Outcome(case, inline, WIRED, wired, output)


def explained(outcome: Outcome) -> bool:
    """A refusal with a message about the case: plugforge's error names the class or the anchor."""
    if outcome.status != REFUSED or not outcome.detail.startswith("Error: "):
        return False
    names = "|".join(re.escape(name) for name in (outcome.case.cls, outcome.case.anchor))
    return re.search(rf"\b({names})\b", outcome.detail) is not None


def _state(model_file: Path) -> tuple[bytes, bool]:
    """The model's bytes, and whether a blocks/ folder is beside it."""
    return model_file.read_bytes(), (model_file.parent / "blocks").exists()


def cli_args(case: Case, model_file: Path, inline: bool) -> list[str]:
    position = ["--replace", case.anchor] if case.replace else ["--after", case.anchor, "--name", attribute(case)]
    measure = ["--build", case.measure] if case.measure else []
    options = [*position, *measure, *(["--inline"] if inline else [])]
    return ["add", case.block, "--into", model_file, "--class", case.cls, *options]


def attribute(case: Case) -> str:
    """The attribute that holds the block once wired (an explicit name: several classes already have ``se``)."""
    return case.anchor if case.replace else f"added_{case.block}"


def block_class(case: Case) -> str:
    return find(case.block).class_name


def chosen(output: str) -> str:
    """What plugforge built the block with: the channel expression it printed, or the replacing constructor."""
    found = re.search(r"^channels: (.+?), (?:read from|measured at run time)", output, re.MULTILINE)
    found = found or re.search(r"^replaced self\.\w+ = .+ by (.+?); `remove", output, re.MULTILINE)
    return found.group(1) if found else ""


def run_model(case: Case, class_name: str) -> None:
    """Build the full model; every block must run (eval forward, train forward) and get gradients."""
    torch.manual_seed(0)
    model = case.build()
    target = getattr(importlib.import_module(case.module), case.cls)
    owners = [m for m in model.modules() if isinstance(m, target)]
    assert owners, f"no {case.cls} in the model built"
    blocks = [getattr(owner, attribute(case), None) for owner in owners]
    wrong = {type(b).__name__ for b in blocks if type(b).__name__ != class_name}
    assert not wrong, f"{case.cls}.{attribute(case)} is {', '.join(sorted(wrong))}, not {class_name}"
    inputs = [torch.randn(shape) for shape in case.inputs]
    with _calls(blocks) as ran:
        model.eval()
        with torch.no_grad():
            model(*inputs)
        model.train()
        loss = sum(t.float().mean() for t in _tensors(model(*inputs)) if t.requires_grad)
    assert len(ran) == len(blocks), f"{len(blocks) - len(ran)} of {len(blocks)} {class_name} blocks never ran"
    assert isinstance(loss, torch.Tensor), "the train-mode output has no tensor that requires grad"
    loss.backward()
    grads = [p.grad for b in blocks for p in b.parameters()]
    assert not grads or any(g is not None for g in grads), f"no gradient reached the {class_name} blocks"


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread: as fast for these small models, and many times steadier on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def _calls(modules: list[torch.nn.Module]) -> Iterator[set[int]]:
    """The ids of the ``modules`` whose forward ran inside the ``with`` statement."""
    ran: set[int] = set()
    hooks = [m.register_forward_hook(lambda module, *_: ran.add(id(module))) for m in modules]
    try:
        yield ran
    finally:
        for hook in hooks:
            hook.remove()


def _tensors(value) -> Iterator[torch.Tensor]:
    """Every tensor in a model output (tensors, tuples, lists, dicts, named tuples)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


def _error(error: Exception) -> str:
    """The error and the innermost frame of the package (or block) it came from."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/site/" in f.filename]
    where = f" (at {frames[-1].filename.split('/site/', 1)[1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def table(outcomes: list[Outcome]) -> str:
    """A markdown table: case, mode, status, what plugforge chose, message or error."""
    rows = ["| case | mode | status | chose | detail |", "| --- | --- | --- | --- | --- |"]
    for o in outcomes:
        detail = " ".join(o.detail.split()) if o.status != WIRED else ""
        chose = f"`{o.wired}`" if o.wired else ""
        rows.append(f"| {o.case.id} | {o.mode} | {o.status} | {chose} | {detail.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
