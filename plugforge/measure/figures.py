"""Measure one module at one input: output shapes, parameters, FLOPs, latency, peak memory.

It imports torch, so only ``check``, ``bench`` and ``add --check`` load it
(through ``plugforge.measure.checking``); ``benchmarks/blocks.py`` uses it too. A measurement is a sequence of
passes (a forward, or a forward and a backward) over the same inputs:

1. one pass that gives the output shapes (and the error, if the module fails),
2. one pass under ``torch.utils.flop_counter.FlopCounterMode`` for the FLOPs,
3. one pass for the peak memory (see ``Figures.peak_bytes``),
4. warm-up passes for a fifth of ``min_run_time``, then timed passes until
   ``min_run_time`` seconds have run (at least ten), and while the spread is
   wider than ``WIDE`` of the median, up to four times as long;
   each pass is timed on its own (``time.perf_counter``, with
   ``torch.cuda.synchronize`` around it on CUDA), so the median and the
   interquartile range are over single passes.

``alternating`` times several prepared modules pass by pass in turn, so that load
from other processes hits all of them alike: the only way a ratio of two latencies
means something on a busy machine. ``threads`` sets torch's intra-op thread count.

Forward-only passes run in eval mode under ``torch.no_grad()``. Backward passes
run in train mode, with float inputs that require grad (a block inside a network
must also compute the gradient of its input), and back-propagate ones from every
output that requires grad; gradients are reset to None before each pass.
"""

from __future__ import annotations

import gc
import statistics
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from plugforge.errors import MeasureError, PassError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
DEVICES = ("cpu", "cuda")
_MIN_RUNS = 10  # timed passes at least, however long each takes
WIDE = 0.25  # an interquartile range wider than this fraction of the median is too noisy to trust
_LONGER = 4  # a noisy measurement is timed up to this many times min_run_time
_MAX_RUNS = 100_000


@dataclass(frozen=True)
class Figures:
    output_shapes: tuple[tuple[int, ...], ...]
    params: int  # trainable + frozen parameter elements
    flops: int  # FlopCounterMode total for the measured pass (fwd, or fwd+bwd)
    latency_s: float  # median seconds per pass over warm runs
    latency_iqr_s: float  # interquartile range of the per-run times
    # Peak memory the pass allocates beyond its inputs and parameters. On CUDA:
    # max_memory_allocated during the pass minus memory_allocated before it. On
    # CPU: the peak of the bytes of tensor storages created during the pass and
    # still alive (activations, saved tensors, gradients, outputs); kernel
    # workspaces and allocator caching are not included. None if not measured.
    peak_bytes: int | None
    runs: int = 0  # timed passes behind the latency figures

    @property
    def spread(self) -> float:
        """The interquartile range as a fraction of the median."""
        return self.latency_iqr_s / self.latency_s if self.latency_s else 0.0


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda[:N]`` as a torch.device; a clear error when CUDA is not available."""
    try:
        resolved = torch.device(device)
    except RuntimeError:
        resolved = None
    if resolved is None or resolved.type not in DEVICES:
        raise MeasureError(f"device {device!r} is not supported; use cpu or cuda")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        raise MeasureError(
            f"--device cuda: no CUDA device is available (torch {torch.__version__}, {build}); "
            "use --device cpu, or run on a machine with a GPU and a CUDA build of torch"
        )
    return resolved


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise MeasureError(f"dtype {dtype!r} is not supported; use {' or '.join(DTYPES)}")
    return DTYPES[dtype]


def measure(
    module: torch.nn.Module,
    inputs: tuple,
    *,
    backward: bool = False,
    device: str = "cpu",
    dtype: str = "float32",
    min_run_time: float = 0.5,
) -> Figures:
    """Measure ``module(*inputs)``; the module is moved and cast in place (as ``nn.Module.to`` does).

    Float inputs are cast to ``dtype`` and every input is moved to ``device``.
    Raises ``PassError`` if the module fails, ``MeasureError`` for bad settings.
    """
    run = prepare(module, inputs, backward=backward, device=device, dtype=dtype)
    shapes = _shapes(run.first())
    with FlopCounterMode(display=False) as counter:
        run()
    peak = _peak_cuda(run, run.device) if run.device.type == "cuda" else _peak_cpu(run)
    [(median, iqr, runs)] = _latency([run], min_run_time)
    params = sum(p.numel() for p in module.parameters())
    return Figures(shapes, params, int(counter.get_total_flops()), median, iqr, peak, runs)


def prepare(module: torch.nn.Module, inputs: tuple, *, backward: bool = False, device: str = "cpu",
            dtype: str = "float32") -> _Pass:  # fmt: skip
    """The module moved and cast (in place), its inputs too: one pass, ready to run."""
    target, cast = resolve_device(device), resolve_dtype(dtype)
    module.to(device=target, dtype=cast).train(backward)
    inputs = tuple(_prepared(x, target, cast, backward) for x in inputs)
    return _Pass(module, inputs, backward, target)


def alternating(runs: list[_Pass], figures: list[Figures], min_run_time: float) -> list[Figures]:
    """``figures`` with the latencies timed again, the passes of every module taking turns."""
    timed = _latency(runs, min_run_time * len(runs))
    return [replace(f, latency_s=m, latency_iqr_s=iqr, runs=n) for f, (m, iqr, n) in zip(figures, timed)]


@contextmanager
def threads(count: int | None) -> Iterator[int]:
    """torch's intra-op thread count set to ``count`` (unchanged when None); yields the count in use."""
    before = torch.get_num_threads()
    if count is not None:
        if count < 1:
            raise MeasureError(f"--threads {count}: give a positive number of threads, e.g. --threads 1")
        torch.set_num_threads(count)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _prepared(value: Any, device: torch.device, dtype: torch.dtype, backward: bool) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    value = value.detach().to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)
    return value.requires_grad_(backward and value.is_floating_point())


class _Pass:
    """One forward (and backward) pass of the module over fixed inputs."""

    def __init__(self, module: torch.nn.Module, inputs: tuple, backward: bool, device: torch.device):
        self.module, self.inputs, self.backward, self.device = module, inputs, backward, device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self) -> Any:
        if not self.backward:
            with torch.no_grad():
                return self.module(*self.inputs)
        self.reset_grads()
        out = self.module(*self.inputs)
        tensors = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.requires_grad]
        torch.autograd.backward(tensors, [torch.ones_like(t) for t in tensors])
        return out

    def first(self) -> Any:
        """A pass that names the stage that failed, and checks there is something to back-propagate."""
        try:
            with torch.no_grad() if not self.backward else torch.enable_grad():
                out = self.module(*self.inputs)
        except Exception as error:
            raise PassError("forward", error) from error
        if self.backward:
            tensors = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.requires_grad]
            if not tensors:
                raise MeasureError("--backward: no output requires grad, so there is nothing to back-propagate")
            try:
                torch.autograd.backward(tensors, [torch.ones_like(t) for t in tensors])
            except Exception as error:
                raise PassError("backward", error) from error
        return out

    def reset_grads(self) -> None:
        self.module.zero_grad(set_to_none=True)
        for x in self.inputs:
            if isinstance(x, torch.Tensor):
                x.grad = None


def _shapes(out: Any) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(t.shape) for t in tree_leaves(out) if isinstance(t, torch.Tensor))


def _latency(runs: list[_Pass], min_run_time: float) -> list[tuple[float, float, int]]:
    """Median, interquartile range and count of single-pass times of each run, after warm-up.

    The runs take turns pass by pass, in an order that rotates each round. Timing goes on
    for ``min_run_time`` seconds and at least ``_MIN_RUNS`` rounds, and while any spread
    is wider than ``WIDE``, up to ``_LONGER`` times as long.
    """
    times: list[list[float]] = [[] for _ in runs]
    enabled = gc.isenabled()
    gc.disable()
    try:
        _rounds(runs, None, min_run_time / 5, 1)  # warm-up
        start = time.perf_counter()
        _rounds(runs, times, min_run_time, _MIN_RUNS)
        while any(_spread(t) > WIDE for t in times) and time.perf_counter() - start < _LONGER * min_run_time:
            _rounds(runs, times, min_run_time / 2, 1)
    finally:
        if enabled:
            gc.enable()
    found = []
    for samples in times:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        found.append((statistics.median(samples), q3 - q1, len(samples)))
    return found


def _rounds(runs: list[_Pass], times: list[list[float]] | None, budget: float, least: int) -> None:
    start, rounds = time.perf_counter(), 0
    while rounds < least or (time.perf_counter() - start < budget and rounds < _MAX_RUNS):
        for offset in range(len(runs)):
            index = (rounds + offset) % len(runs)
            runs[index].sync()
            begin = time.perf_counter()
            runs[index]()
            runs[index].sync()
            if times is not None:
                times[index].append(time.perf_counter() - begin)
        rounds += 1


def _spread(samples: list[float]) -> float:
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return (q3 - q1) / median if median else 0.0


def _peak_cuda(run: _Pass, device: torch.device) -> int:
    run.reset_grads()
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    out = run()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    del out
    return max(peak, 0)


def _peak_cpu(run: _Pass) -> int:
    run.reset_grads()
    with _StorageTracker() as tracker:
        out = run()
    del out
    return tracker.peak


class _StorageTracker(TorchDispatchMode):
    """Peak bytes of the tensor storages created while the mode is active and still alive.

    Every op's output storage that is not one of its inputs' storages (a view or
    an in-place result) is new: it is counted once, and subtracted when torch
    frees it (``weakref.finalize`` on the storage, whose Python object torch keeps
    as long as the storage lives).
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        known = {id(s) for s in _storages((args, kwargs))}
        for storage in _storages(out):
            self._track(storage, known)
        return out

    def _track(self, storage: torch.UntypedStorage, known: set[int]) -> None:
        key, size = id(storage), storage.nbytes()
        if key in known or key in self.live or not size:
            return
        self.live[key] = size
        self.current += size
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)


def _storages(tree: Any) -> list[torch.UntypedStorage]:
    """The storages of the dense tensors in a pytree (sparse and other storage-less tensors are skipped)."""
    found = []
    for leaf in tree_leaves(tree):
        if isinstance(leaf, torch.Tensor) and leaf.layout == torch.strided:
            try:
                found.append(leaf.untyped_storage())
            except (RuntimeError, NotImplementedError):
                pass
    return found
