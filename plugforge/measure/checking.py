"""`check`, `bench` and `add --check`: build a model or a block, measure it, report the figures.

Imports torch (through ``plugforge.measure.figures``); only these commands load this module.
A model file is imported in its package context: a file inside a package (a
directory with ``__init__.py``) by its dotted name with the package root on
``sys.path``, so relative imports and a vendored ``blocks/`` package resolve; a
script with its own directory on ``sys.path``. Modules imported from there are
dropped from ``sys.modules`` afterwards, and no bytecode is written.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from plugforge.catalog.describe import columns
from plugforge.catalog.spec import BlockSpec
from plugforge.errors import CheckError, MeasureError, PassError, PlugforgeError
from plugforge.rendering.cache import default_block
from plugforge.measure.figures import (
    WIDE, Figures, alternating, measure, prepare, resolve_device, resolve_dtype, threads,
)  # fmt: skip
from plugforge.project import folder_of

DEFAULT_MIN_RUN_TIME = 0.5
BENCH_INPUT = (2, 64, 56, 56)


@dataclass(frozen=True)
class Settings:
    """How to measure: device, dtype, pass, threads, and seconds of timed runs (``$PLUGFORGE_MIN_RUN_TIME``)."""

    device: str = "cpu"
    dtype: str = "float32"
    backward: bool = False
    min_run_time: float | None = None
    threads: int | None = None  # torch's intra-op threads; None keeps torch's default

    def validate(self) -> None:
        resolve_device(self.device)
        resolve_dtype(self.dtype)

    def run_time(self) -> float:
        if self.min_run_time is not None:
            return self.min_run_time
        text = os.environ.get("PLUGFORGE_MIN_RUN_TIME", str(DEFAULT_MIN_RUN_TIME))
        try:
            return float(text)
        except ValueError:
            raise MeasureError(f"PLUGFORGE_MIN_RUN_TIME={text!r} is not a number of seconds") from None

    def measure(self, module: nn.Module, inputs: tuple) -> Figures:
        with threads(self.threads):
            return measure(module, inputs, **self._kwargs(), min_run_time=self.run_time())

    def alternately(self, measured: list[tuple[nn.Module, tuple, Figures]]) -> list[Figures]:
        """The figures with every latency timed again, the modules' passes taking turns (for ratios)."""
        with threads(self.threads):
            runs = [prepare(module, inputs, **self._kwargs()) for module, inputs, _ in measured]
            return alternating(runs, [figures for *_, figures in measured], self.run_time())

    def _kwargs(self) -> dict:
        return {"backward": self.backward, "device": self.device, "dtype": self.dtype}

    def title(self, shapes: tuple[tuple[int, ...], ...]) -> str:
        given = ", ".join(_shape(s) for s in shapes)
        with threads(self.threads) as count:
            used = f"{count} thread{'s' if count > 1 else ''}" if self.device == "cpu" else ""
        what = "forward+backward" if self.backward else "forward"
        return ", ".join(part for part in (f"input {given}", self.device, self.dtype, what, used) if part)


@dataclass(frozen=True)
class Version:
    """A model file to import: the file itself, or another ``text`` of it imported from a sibling file."""

    file: Path
    label: str
    text: bytes | None = None


# -- check --------------------------------------------------------------------------------


def check(file: Path, expr: str, shapes: tuple[tuple[int, ...], ...], settings: Settings,
          against: str | None = None) -> str:  # fmt: skip
    """The report of ``plugforge check``: one model, or the model against another version of it."""
    settings.validate()
    if file.suffix != ".py" or not file.is_file():
        problem = "does not exist" if not file.is_file() else "is not a .py file"
        raise CheckError(f"{file} {problem}; pass the .py file that defines your model")
    current = Version(file, _shown(file))
    if against is None:
        return single_report(
            measure_version(current, expr, shapes, settings), f"{expr} from {current.label}", shapes, settings
        )
    other = other_version(file, against)
    measured = [_measured(version, expr, shapes, settings) for version in (other, current)]
    before, after = settings.alternately(measured)
    return compare_report(before, after, expr, shapes, settings, (other.label, current.label))


def add_check(model: Path, expr: str, shapes: tuple[tuple[int, ...], ...]) -> Callable[[BlockSpec, dict], str]:
    """``add --check EXPR --input SHAPE``: what to run once add has written its files, given the block and its values.

    The model is read now, before add writes it, to be measured against the wired one.
    """
    original = model.read_bytes() if model.is_file() else b""
    return partial(after_add, model, original, expr, shapes)


def after_add(
    model: Path,
    original: bytes,
    expr: str,
    shapes: tuple[tuple[int, ...], ...],
    spec: BlockSpec,
    values: dict[str, Any],
) -> str:
    """``add --check``: the wired model against the model as it was; raises if the wired one fails.

    A block whose method takes only some map sizes is refused first when a map that reaches it does not fit.
    """
    settings, shown = Settings(), _shown(model)
    refuse_unfit_maps("--check", model, expr, shapes, spec, values)
    try:
        after = _measured(Version(model, shown), expr, shapes, settings)
    except PlugforgeError as error:
        raise CheckError(f"--check: the wired model fails, so every file was put back as it was.\n{error}") from None
    try:
        before = _measured(Version(model, f"{shown} before add", original), expr, shapes, settings)
    except PlugforgeError as error:
        note = f"\n(the model before add fails at this input, so there is nothing to compare: {error})"
        return single_report(after[2], f"{expr} from {shown}", shapes, settings) + note
    timed = settings.alternately([before, after])
    return compare_report(*timed, expr, shapes, settings, (f"{shown} before add", shown))


def refuse_unfit_maps(
    option: str, model: Path, expr: str, shapes: tuple[tuple[int, ...], ...], spec: BlockSpec, values: dict[str, Any]
) -> None:
    """Raise when a map that reaches the wired block in ``expr`` at ``shapes`` does not fit its map-size rule."""
    if spec.map_size is None:
        return
    problem = spec.map_problem(values, maps_reaching(Version(model, _shown(model)), expr, shapes, spec.class_name))
    if problem:
        given = " ".join(f"--input {','.join(map(str, shape))}" for shape in shapes)
        raise CheckError(f"{option}: every file was put back as it was: in {expr} at {given}, {problem}")


def maps_reaching(
    version: Version, expr: str, shapes: tuple[tuple[int, ...], ...], class_name: str
) -> list[tuple[int, int, int]]:
    """The (C, H, W) of every input the ``class_name`` blocks get when ``expr`` runs at ``shapes``.

    The blocks pass their input through meanwhile, so a map one of them cannot take
    does not stop the run before the maps of the later ones are seen.
    """
    seen: list[tuple[int, int, int]] = []

    def pass_through(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        seen.append(tuple(x.shape[1:4]))
        return x

    with imported(version) as (module, where):
        model = build_model(module, expr, where)
        for block in model.modules():
            if type(block).__name__ == class_name:
                block.forward = pass_through
        try:
            with torch.no_grad():
                model.eval()(*(torch.randn(shape) for shape in shapes))
        except Exception:  # noqa: BLE001 - the measured run that follows reports the failure
            pass
    return seen


def runs(model: Path, expr: str, shapes: tuple[tuple[int, ...], ...]) -> None:
    """Build ``expr`` from ``model`` and run it once at random inputs of ``shapes``; a CheckError says where it fails."""
    version = Version(model, _shown(model))
    with imported(version) as (module, where):
        built = build_model(module, expr, where)
        try:
            with torch.no_grad():
                built.eval()(*(torch.randn(shape) for shape in shapes))
        except Exception as error:  # noqa: BLE001 - any failure of the user's model is reported, with its place
            raise CheckError(f"forward failed: {_error(error)}{where.located(error)}") from None


def measure_version(version: Version, expr: str, shapes: tuple[tuple[int, ...], ...], settings: Settings) -> Figures:
    """Import the version, build ``expr`` in its namespace, and measure it at random inputs."""
    return _measured(version, expr, shapes, settings)[2]


def _measured(version: Version, expr: str, shapes: tuple[tuple[int, ...], ...],
              settings: Settings) -> tuple[nn.Module, tuple, Figures]:  # fmt: skip
    """``measure_version`` with the model and inputs, to time them again alongside another version."""
    with imported(version) as (module, where):
        torch.manual_seed(0)
        model = build_model(module, expr, where)
        inputs = tuple(torch.randn(shape) for shape in shapes)
        try:
            return model, inputs, settings.measure(model, inputs)
        except PassError as error:
            hint = _shape_hint(error.error, expr, shapes)
            raise CheckError(f"{error}{where.located(error.error)}{hint}") from None


def other_version(file: Path, other: str) -> Version:
    """``--against``: a file path, or a git revision of ``file``."""
    candidate = Path(other)
    if candidate.is_file():
        return Version(candidate, _shown(candidate))
    return Version(file, f"{_shown(file)}@{other}", _git_text(file, other))


def _git_text(file: Path, revision: str) -> bytes:
    directory = file.resolve().parent
    top = Path(_git(directory, revision, "rev-parse", "--show-toplevel").decode().strip())
    relative = file.resolve().relative_to(top.resolve()).as_posix()
    return _git(directory, revision, "show", f"{revision}:{relative}")


def _git(directory: Path, revision: str, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True)
    except FileNotFoundError:
        done = None
    if done is None or done.returncode:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1] if done else "git is not installed"
        raise CheckError(
            f"--against {revision}: no such file, and not a git revision of the model ({reason}); "
            "give a file path, or a revision such as HEAD or HEAD~1"
        )
    return done.stdout


# -- importing and building ---------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """Where a version's code lives, to point at the line that failed."""

    path: Path  # the file imported (a temporary sibling for another text)
    label: str
    root: Path  # the directory on sys.path

    def located(self, error: BaseException) -> str:
        """Lines ``at model.py:31: <code>`` (the last frame in the file) and ``raised in blocks/x.py:57: <code>``."""
        if isinstance(error, SyntaxError) and error.filename == str(self.path):
            return f"\n  at {self.label}:{error.lineno}: {(error.text or '').strip()}"
        frames = traceback.extract_tb(error.__traceback__)
        mine = [f for f in frames if f.filename == str(self.path)]
        ours = [f for f in frames if _under(f.filename, self.root) and f.filename != str(self.path)]
        found = f"\n  at {self.label}:{mine[-1].lineno}: {mine[-1].line}" if mine else ""
        if ours and (not mine or frames.index(ours[-1]) > frames.index(mine[-1])):
            found += f"\n  raised in {_shown(Path(ours[-1].filename))}:{ours[-1].lineno}: {ours[-1].line}"
        return found


@contextmanager
def imported(version: Version) -> Iterator[tuple[ModuleType, _Where]]:
    path = folder_of(version.file) / version.file.name  # a symlinked model imports from where the link is
    if version.text is not None:
        path = path.with_name(f"_plugforge_{os.getpid()}_{path.stem}.py")
        path.write_bytes(version.text)
    try:
        root, name = _module_name(path, version.label)
        where = _Where(path, version.label, root)
        with _import_context(root):
            try:
                module = importlib.import_module(name)
            except Exception as error:
                raise CheckError(f"importing {version.label} failed: {_error(error)}{where.located(error)}") from None
            yield module, where
    finally:
        if version.text is not None:
            path.unlink(missing_ok=True)


def _module_name(path: Path, label: str) -> tuple[Path, str]:
    """The directory to put on sys.path and the dotted module name of the file."""
    packages = []
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        packages.insert(0, directory.name)
        directory = directory.parent
    parts = [*packages, path.stem]
    bad = [part for part in parts if not part.isidentifier()]
    if bad:
        raise CheckError(f"cannot import {label}: {', '.join(bad)} is not a valid module name; rename it")
    return directory, ".".join(parts)


@contextmanager
def _import_context(root: Path) -> Iterator[None]:
    """``root`` first on sys.path, no bytecode; its modules are dropped from sys.modules afterwards."""
    local = {p.stem for p in root.glob("*.py")} | {p.parent.name for p in root.glob("*/__init__.py")}
    local -= {__name__.partition(".")[0], "torch"}  # never swap out the tool itself or torch
    evicted = {name: sys.modules.pop(name) for name in list(sys.modules) if name.partition(".")[0] in local}
    saved_path, saved_flag = list(sys.path), sys.dont_write_bytecode
    sys.path.insert(0, str(root))
    sys.dont_write_bytecode = True
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_flag
        for name in [name for name in sys.modules if name.partition(".")[0] in local]:
            del sys.modules[name]
        sys.modules.update(evicted)


def build_model(module: ModuleType, expr: str, where: _Where) -> nn.Module:
    try:
        code = compile(expr.strip(), "<--build>", "eval")
    except SyntaxError as error:
        raise CheckError(
            f"--build {expr!r} is not a Python expression ({error.msg}); e.g. --build 'Bottleneck(256, 64)'"
        ) from None
    try:
        built = eval(code, vars(module))  # noqa: S307 - the user's own expression over the user's own file
    except NameError as error:
        if traceback.extract_tb(error.__traceback__)[-1].filename == "<--build>":
            raise CheckError(_unknown_name(module, error, where)) from None
        raise CheckError(f"building {expr} failed: {_error(error)}{where.located(error)}") from None
    except Exception as error:
        raise CheckError(f"building {expr} failed: {_error(error)}{where.located(error)}") from None
    if isinstance(built, type) and issubclass(built, nn.Module):
        raise CheckError(f"--build {expr} is the class; call it with its arguments, e.g. --build '{expr}(...)'")
    if not isinstance(built, nn.Module):
        raise CheckError(
            f"--build {expr} gave {type(built).__name__}, not an nn.Module; build the model, e.g. {_example(module)}"
        )
    return built


def _unknown_name(module: ModuleType, error: NameError, where: _Where) -> str:
    defined = _defined(module)
    name = getattr(error, "name", None) or str(error)
    close = difflib.get_close_matches(name, [d.split("(")[0].split(" ")[0] for d in defined], n=1)
    suggestion = f" Did you mean {close[0]}?" if close else ""
    listing = ", ".join(defined) if defined else "no nn.Module class or function"
    return f"--build: name {name!r} is not defined in {where.label}, which defines {listing}.{suggestion}"


def _defined(module: ModuleType) -> list[str]:
    """The nn.Module classes and the functions the file itself defines."""
    found = []
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__ or name.startswith("_"):
            continue
        if isinstance(value, type) and issubclass(value, nn.Module):
            found.append(f"{name} (nn.Module)")
        elif callable(value) and not isinstance(value, type):
            found.append(f"{name}()")
    return found


def _example(module: ModuleType) -> str:
    defined = _defined(module)
    return defined[0].split(" ")[0].removesuffix("()") + "(...)" if defined else "MyModel()"


def _shape_hint(error: BaseException, expr: str, shapes: tuple[tuple[int, ...], ...]) -> str:
    text = str(error).lower()
    if isinstance(error, (RuntimeError, ValueError)) and any(
        w in text for w in ("shape", "size", "channel", "dimension")
    ):
        return f"\n  is --input {', '.join(_shape(s) for s in shapes)} the input {expr} expects?"
    return ""


# -- bench --------------------------------------------------------------------------------


def bench(specs: list[BlockSpec], overrides: dict[str, str], shape: tuple[int, ...], settings: Settings) -> str:
    """One row per block at ``shape``; with several blocks, each latency as a ratio of the first's."""
    settings.validate()
    if len(shape) != 4:
        raise MeasureError(
            f"--input {_shape(shape)}: bench feeds the blocks (B, C, H, W) maps; give four sizes, e.g. 2,64,56,56"
        )
    for name in overrides:
        if not any(name in spec.params for spec in specs):
            specs[0].param(name)  # raises, naming the parameters
    for spec in specs:  # every block can be built before any is measured
        _check_benchable(spec)
        _constructor_kwargs(spec, _own(spec, overrides), shape[1])
    measured = [_bench_measured(spec, _own(spec, overrides), shape, settings) for spec in specs]
    figures = settings.alternately(measured) if len(measured) > 1 else [measured[0][2]]
    rows = [(spec.id, f) for spec, f in zip(specs, figures)]
    return f"{settings.title((shape,))}\n{_bench_table(rows)}{_noise_warning(figures, settings)}"


def _bench_table(rows: list[tuple[str, Figures]]) -> str:
    ratio = len(rows) > 1
    table = [("BLOCK", "PARAMS", "FLOPS", "LATENCY", "PEAK MEMORY", *([f"VS {rows[0][0].upper()}"] if ratio else []))]
    for block, f in rows:
        cells = (block, f"{f.params:,}", _flops(f.flops), _latency(f), _memory(f.peak_bytes))
        table.append((*cells, *([_ratio(f.latency_s, rows[0][1].latency_s)] if ratio else [])))
    return columns(table)


def bench_block(spec: BlockSpec, overrides: dict[str, str], shape: tuple[int, ...], settings: Settings) -> Figures:
    """Render the block with its defaults, build it for ``shape`` and measure it."""
    return _bench_measured(spec, overrides, shape, settings)[2]


def _bench_measured(spec: BlockSpec, overrides: dict[str, str], shape: tuple[int, ...],
                    settings: Settings) -> tuple[nn.Module, tuple, Figures]:  # fmt: skip
    _check_benchable(spec)
    kwargs = _constructor_kwargs(spec, overrides, shape[1])
    with tempfile.TemporaryDirectory(prefix="plugforge-bench-") as directory:
        path = Path(directory) / f"{spec.module}.py"
        path.write_text(default_block(spec), encoding="utf-8")
        where = _Where(path, f"{spec.module}.py (rendered)", Path(directory))
        loader = importlib.util.spec_from_file_location(f"_plugforge_bench_{spec.module}", path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
        torch.manual_seed(0)
        call = f"{spec.class_name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        try:
            block = getattr(module, spec.class_name)(**kwargs)
        except Exception as error:
            raise CheckError(f"{spec.id}: building {call} failed: {_error(error)}; change --input or --set") from None
        inputs = (torch.randn(shape),)
        try:
            return block, inputs, settings.measure(block, inputs)
        except PassError as error:
            raise CheckError(f"{spec.id}: {error}{where.located(error.error)}; at --input {_shape(shape)}") from None


def _check_benchable(spec: BlockSpec) -> None:
    if spec.takes_one_map:
        return
    if spec.fuses:
        raise CheckError(
            f"{spec.id} fuses several feature maps, so bench cannot feed it one input; render it with `plugforge new {spec.id}`"
        )
    if spec.is_function:
        raise CheckError(f"{spec.id} is a utility function, not a layer; there is nothing to bench")
    raise CheckError(f"{spec.id} works on {spec.input.layout} tensors; bench feeds (B, C, H, W) maps only")


def _own(spec: BlockSpec, overrides: dict[str, str]) -> dict[str, str]:
    """The --set values this block has a parameter for."""
    return {name: text for name, text in overrides.items() if name in spec.params}


def _constructor_kwargs(spec: BlockSpec, overrides: dict[str, str], channels: int) -> dict[str, Any]:
    """Defaults and --set values; parameters without a default from --set, else the input's channels."""
    widths = (spec.input.channels, "out_channels")
    values = spec.resolve(overrides, {name: channels for name, p in spec.params.items() if p.required and name in widths})
    missing = [param for name, param in spec.params.items() if name not in values]
    if missing:
        name, doc = missing[0].name, missing[0].doc.rstrip(".")
        raise CheckError(f"{spec.id} needs {name} ({doc}), which has no default; give --set {name}=VALUE")
    return {name: values[name] for name in spec.params}


# -- reports ------------------------------------------------------------------------------


def single_report(figures: Figures, what: str, shapes: tuple[tuple[int, ...], ...], settings: Settings) -> str:
    rows = [
        ("output", _outputs(figures)),
        ("parameters", f"{figures.params:,}"),
        ("FLOPs", _flops(figures.flops)),
        ("latency", f"{_latency(figures)} (median ± IQR of {figures.runs} runs)"),
        ("peak memory", _memory(figures.peak_bytes)),
    ]
    return f"{what}, {settings.title(shapes)}\n{columns(rows)}{_noise_warning([figures], settings)}"


def compare_report(before: Figures, after: Figures, expr: str, shapes: tuple[tuple[int, ...], ...],
                   settings: Settings, labels: tuple[str, str]) -> str:  # fmt: skip
    same = "same" if before.output_shapes == after.output_shapes else "differs"
    rows = [
        ("", "BEFORE", "AFTER", "RATIO"),
        ("output", _outputs(before), _outputs(after), same),
        ("parameters", f"{before.params:,}", f"{after.params:,}", _ratio(after.params, before.params)),
        ("FLOPs", _flops(before.flops), _flops(after.flops), _ratio(after.flops, before.flops)),
        ("latency", _latency(before), _latency(after), _ratio(after.latency_s, before.latency_s)),
        (
            "peak memory",
            _memory(before.peak_bytes),
            _memory(after.peak_bytes),
            _ratio(after.peak_bytes, before.peak_bytes),
        ),
    ]
    head = f"{expr}, {settings.title(shapes)}\nbefore: {labels[0]}\nafter:  {labels[1]}"
    return f"{head}\n{columns(rows)}{_noise_warning([before, after], settings)}"


def _noise_warning(figures: list[Figures], settings: Settings) -> str:
    """A warning line when a latency's spread is too wide for its median (or a ratio) to be trusted."""
    spread = max(f.spread for f in figures)
    if spread <= WIDE:
        return ""
    fix = "run on an idle machine" + ("" if settings.threads == 1 else ", or with --threads 1")
    return (
        f"\nwarning: the latency spread is wide (interquartile range {spread:.0%} of the median, over "
        f"{min(f.runs for f in figures)} runs or more): other load competes for the cores, so the latencies "
        f"are not to be trusted; {fix}"
    )


def _outputs(figures: Figures) -> str:
    return ", ".join(_shape(s) for s in figures.output_shapes) or "no tensor"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _flops(flops: int) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if flops >= scale:
            return f"{flops / scale:.3g} {prefix}FLOPs"
    return f"{flops} FLOPs"


def _latency(figures: Figures) -> str:
    """``100 ± 4.6 µs``; ``825 µs ± 76 ms`` where the spread needs a larger unit."""
    median, iqr = figures.latency_s, figures.latency_iqr_s
    scale, unit = _unit(median)
    if iqr < 1000 * scale:
        return f"{_digits(median / scale, 3)} ± {_digits(iqr / scale, 2)} {unit}"
    iqr_scale, iqr_unit = _unit(iqr)
    return f"{_digits(median / scale, 3)} {unit} ± {_digits(iqr / iqr_scale, 2)} {iqr_unit}"


def _unit(seconds: float) -> tuple[float, str]:
    return next(((s, u) for s, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")) if seconds >= s), (1e-9, "ns"))


def _memory(size: int | None) -> str:
    if size is None:
        return "n/a"
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def _ratio(after: float | None, before: float | None) -> str:
    if not before or after is None:
        return "-"
    ratio = after / before
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:,.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def _digits(value: float, significant: int) -> str:
    """``value`` to about ``significant`` digits, never in exponent notation."""
    if value <= 0:
        return "0"
    decimals = significant - 1 - math.floor(math.log10(value))
    return f"{round(value, decimals):.{max(0, decimals)}f}"


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _under(filename: str, root: Path) -> bool:
    path = Path(filename)
    return path.is_absolute() and path.is_relative_to(root) and "site-packages" not in path.parts


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
