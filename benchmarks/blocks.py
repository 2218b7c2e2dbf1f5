"""Benchmark: every single-input NCHW catalog block at two standard inputs, against references.

Each block is rendered with its catalog defaults (plus the --set values listed in
``SETTINGS`` where its method constrains the input), built for the input's channel
count (``channels = in_channels = out_channels = C``) and measured with
``plugforge.measure.figures.measure`` at 2x64x56x56 and 8x256x14x14, forward (eval, no
grad) and forward+backward (train), float32, on the CPU and on CUDA when present:
median latency, interquartile range, peak memory, parameters and FLOPs.

Where a reference implementation is importable (``benchmarks/references.py``),
the block, configured as in its parity test, and the reference (with the same
weights) run side by side on the same input; ratio = block / reference (target
<= 1.0 at the median). Their single passes are interleaved, so that other load on
the machine hits both alike, and the ratio is the median of the per-pair ratios; a
ratio above 0.9 (close to 1, or slower) is timed again for three times as long.

    python benchmarks/blocks.py [--ids se cbam ...] [--min-run-time 0.3] [--devices cpu cuda]
                                [--threads 1] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks.references import REFERENCES, Reference, build_block, import_references, randomize_  # noqa: E402
from benchmarks.references import torchvision_ops_available  # noqa: E402
from plugforge.catalog.spec import BlockSpec, load_catalog  # noqa: E402
from plugforge.measure.figures import Figures, measure  # noqa: E402

Shape = tuple[int, int, int, int]
SHAPES: tuple[Shape, ...] = ((2, 64, 56, 56), (8, 256, 14, 14))
PASSES = ((False, "forward"), (True, "forward+backward"))
RECHECK = 0.9  # re-measure, for longer, a ratio above this
MIN_PAIRS = 15  # at least this many timed pairs, however slow the pass: a median of 5 wanders by 5%
NOISE_MIN = 0.05  # a ratio above 1 + max(this, the A/A spread) is slower beyond noise
NOISE_REFERENCES = ("se-SqueezeExcitation", "residual-BasicBlock")  # A/A pairs: a tiny block and a conv block

# --set values a block needs at an input, because its method constrains the input size.
SETTINGS: dict[str, Callable[[Shape], dict[str, Any]]] = {
    "aft": lambda s: {"max_tokens": s[2] * s[3]},  # AFT-full: one position bias per token pair
    "clo_attn": lambda s: {"window_size": 4 if s[2] % 4 == 0 else 2},  # pooled windows tile H, W
    # heads must divide C and be a multiple of len(dilations): no multiple of 3 divides 64 or 256
    "dilate_attn": lambda s: {"num_heads": 8, "dilations": [1, 2, 3, 4]},
    "halo_attn": lambda s: {"block_size": 8 if s[2] % 8 == 0 else 7},  # blocks tile H, W
    # nn.Conv2d-like blocks default to padding=0; pad as the 3x3 conv they replace
    "ac_block": lambda s: {"padding": 1},
    "coord_conv": lambda s: {"padding": 1},
    "dcn": lambda s: {"padding": 1},
}
# Blocks no setting fits to the standard inputs, with the reason.
UNFIT = {
    "weighted_permute_mlp": "its H and W mixers need H == W == segment_dim dividing C; "
    "no segment_dim fits 56x56 with 64 channels or 14x14 with 256",
}


@dataclass(frozen=True)
class Row:
    block: str
    settings: dict[str, Any]
    shape: Shape
    backward: bool
    device: str
    figures: Figures | None
    error: str = ""


@dataclass(frozen=True)
class Comparison:
    ref: Reference
    shape: Shape
    backward: bool
    device: str
    block_s: float  # median seconds per pass
    ref_s: float
    ratio: float  # median of the per-pair ratios block / reference
    rerun_s: float | None  # the min-run-time of the re-measurement, if any
    error: str = ""


# -- selection -------------------------------------------------------------------------


def skip_reason(spec: BlockSpec) -> str | None:
    """Why a block is not benchmarked at a single NCHW input, or None."""
    if spec.takes_one_map:
        return UNFIT.get(spec.id)
    if spec.is_function:
        return "a utility function, not a module"
    if spec.fuses:
        return f"fuses several inputs ({', '.join(spec.input.names)})"
    return f"takes {spec.input.layout} input"


def select(ids: list[str] | None) -> tuple[list[BlockSpec], list[tuple[str, str]]]:
    specs = [s for s in load_catalog().specs if not ids or s.id in ids]
    skipped = [(s.id, r) for s in specs if (r := skip_reason(s))]
    return [s for s in specs if not skip_reason(s)], skipped


# -- measuring -------------------------------------------------------------------------


def _input(shape: Shape) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


def measure_block(spec: BlockSpec, shape: Shape, backward: bool, device: str, min_run_time: float) -> Row:
    settings = SETTINGS[spec.id](shape) if spec.id in SETTINGS else {}
    try:
        module = build_block(spec.id, shape[1], settings)
        figures = measure(module, (_input(shape),), backward=backward, device=device, min_run_time=min_run_time)
    except Exception as error:  # a block that fails is reported, not fatal
        return Row(spec.id, settings, shape, backward, device, None, f"{type(error).__name__}: {error}")
    return Row(spec.id, settings, shape, backward, device, figures)


def _pair(ref: Reference, shape: Shape) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The reference and the block built alike for ``shape``, with the same weights."""
    channels = shape[1]
    reference = randomize_(ref.make(channels, shape[2:]))
    block = build_block(ref.block, channels, ref.settings(channels))
    ref.copy(reference, block)
    return block, reference


def compare(ref: Reference, shape: Shape, backward: bool, device: str, min_run_time: float) -> Comparison:
    """Latency of the block and of its reference on the same input, timed in interleaved pairs.

    Single passes alternate (block, reference, reference, block, ...) so that load
    from other processes hits both alike; the ratio is the median of the per-pair
    ratios. A ratio above ``RECHECK`` is timed again three times as long, and that
    longer measurement is kept.
    """
    try:
        block, reference = _pair(ref, shape)
        runs = [_runner(m, _input(shape), backward, device) for m in (block, reference)]
        block_s, ref_s, ratio = _paired(*runs, min_run_time)
        rerun = None
        if ratio > RECHECK:
            rerun = 3 * min_run_time
            block_s, ref_s, ratio = _paired(*runs, rerun)
    except Exception as error:  # reported in the table, not fatal
        return Comparison(ref, shape, backward, device, float("nan"), float("nan"), float("nan"), None, f"{type(error).__name__}: {error}")
    return Comparison(ref, shape, backward, device, block_s, ref_s, ratio, rerun)


def _runner(module: torch.nn.Module, x: torch.Tensor, backward: bool, device: str) -> Callable[[], float]:
    """A function that runs one pass (as ``plugforge.measure.figures`` does) and returns its seconds."""
    target = torch.device(device)
    module.to(target).train(backward)
    x = x.to(target).requires_grad_(backward)
    sync = (lambda: torch.cuda.synchronize(target)) if target.type == "cuda" else (lambda: None)

    def run() -> float:
        sync()
        start = time.perf_counter()
        if backward:
            module.zero_grad(set_to_none=True)
            x.grad = None
            out = module(x)
            out.backward(torch.ones_like(out))
        else:
            with torch.no_grad():
                module(x)
        sync()
        return time.perf_counter() - start

    return run


def _paired(block: Callable[[], float], reference: Callable[[], float], min_run_time: float) -> tuple[float, float, float]:
    """Median seconds of each, and the median of the per-pair ratios, after a warm-up."""
    for _ in range(2):
        block(), reference()
    pairs: list[tuple[float, float]] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(pairs) < MIN_PAIRS or time.perf_counter() - start < 2 * min_run_time:
            if len(pairs) % 2:
                ref_s, block_s = reference(), block()
            else:
                block_s, ref_s = block(), reference()
            pairs.append((block_s, ref_s))
    finally:
        if enabled:
            gc.enable()
    blocks, refs = zip(*pairs)
    return statistics.median(blocks), statistics.median(refs), statistics.median(b / r for b, r in pairs)


def comparable(refs: tuple[Reference, ...], ids: list[str] | None) -> list[Reference]:
    """References of one NCHW tensor whose ops run here."""
    ops = torchvision_ops_available()
    return [r for r in refs if r.inputs is None and (ops or not r.needs_ops) and (not ids or r.block in ids)]


# -- report ----------------------------------------------------------------------------


def machine(devices: list[str]) -> list[str]:
    cpu = _cpu_model()
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores, torch threads: {torch.get_num_threads()}",
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} {platform.release()}",
    ]
    if "cuda" in devices:
        lines.append(f"- CUDA: {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})")
    return lines


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _shape(shape: Shape) -> str:
    return "×".join(map(str, shape))


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"


def _count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def _mib(n: int | None) -> str:
    return "–" if n is None else f"{n / 2**20:.1f}"


def block_table(rows: list[Row]) -> list[str]:
    lines = ["| block | settings | params | FLOPs | median ms | IQR ms | peak MiB |", "|---|---|--:|--:|--:|--:|--:|"]
    for r in sorted(rows, key=lambda r: r.block):
        f = r.figures
        if f is None:
            lines.append(f"| {r.block} | {_settings(r.settings)} | failed: {r.error[:120]} | | | | |")
            continue
        cells = [_count(f.params), _count(f.flops), f"{f.latency_s * 1e3:.3f}", f"{f.latency_iqr_s * 1e3:.3f}", _mib(f.peak_bytes)]
        lines.append(f"| {r.block} | {_settings(r.settings)} | " + " | ".join(cells) + " |")
    return lines


def comparison_table(comparisons: list[Comparison]) -> list[str]:
    lines = ["| block | reference | settings | block ms | reference ms | ratio |", "|---|---|---|--:|--:|--:|"]
    for c in comparisons:
        name = c.ref.name + "".join(f" ({t})" for t in c.ref.tags)
        settings = _settings(c.ref.settings(c.shape[1]))
        if c.error:
            lines.append(f"| {c.ref.block} | {name} | {settings} | not run: {c.error[:120]} | | |")
            continue
        mark = "*" if c.rerun_s else ""
        lines.append(f"| {c.ref.block} | {name} | {settings} | {c.block_s * 1e3:.3f} | {c.ref_s * 1e3:.3f} | {c.ratio:.2f}{mark} |")
    return lines


def report(rows: list[Row], comparisons: list[Comparison], noise: dict[str, float], skipped: list[tuple[str, str]],
           devices: list[str], command: str, seconds: float) -> str:  # fmt: skip
    out = _header(devices, command, seconds)
    for device, shape, backward, name in _sections(devices):
        chosen = [r for r in rows if (r.device, r.shape, r.backward) == (device, shape, backward)]
        if chosen:
            out += ["", f"## {device} · {_shape(shape)} · {name}", "", *block_table(chosen)]
    if comparisons:
        out += _comparisons(comparisons, devices) + _slower(comparisons, noise)
    out += ["", "## Not benchmarked", ""]
    out += [f"- {block}: {reason}" for block, reason in skipped] or ["None."]
    failed = sorted({(r.block, r.error) for r in rows if r.error})
    out += [f"- {block} (failed at some input): {error}" for block, error in failed]
    return "\n".join(out) + "\n"


def _sections(devices: list[str]) -> list[tuple[str, Shape, bool, str]]:
    return [(d, s, b, name) for d in devices for s in SHAPES for b, name in PASSES]


def _header(devices: list[str], command: str, seconds: float) -> list[str]:
    today = datetime.date.today().isoformat()
    return ["# Block benchmarks", "", f"Generated by `benchmarks/blocks.py` on {today} in {seconds / 60:.1f} min.",
            "", "```", command, "```", "", *machine(devices), "",
            "Latency is the median of single passes after warm-up (`plugforge.measure.figures`); forward runs in eval mode "
            "under no_grad, forward+backward in train mode with an input that requires grad. FLOPs are "
            "`torch.utils.flop_counter` counts for the pass (matmuls and convolutions only: pooling, "
            "elementwise and normalisation ops count 0); peak memory is what the pass allocates beyond its "
            "inputs and parameters. Timings on a shared machine are noisy: compare rows of one table, "
            "not across runs."]  # fmt: skip


def _comparisons(comparisons: list[Comparison], devices: list[str]) -> list[str]:
    out = ["", "## Against reference implementations", "",
           "Each block is configured as in its parity test (`tests/test_reference_parity.py`), so both "
           "compute the same function with the same weights. Single passes of the two alternate "
           "(for 2 x min-run-time, at least 5 pairs); ms are medians, ratio is the median of the "
           "per-pair ratios block / reference. `*`: above 0.9 at first, so timed again three times as "
           "long (that value is shown)."]  # fmt: skip
    for device, shape, backward, name in _sections(devices):
        chosen = [c for c in comparisons if (c.device, c.shape, c.backward) == (device, shape, backward)]
        if chosen:
            out += ["", f"### {device} · {_shape(shape)} · {name}", "", *comparison_table(chosen)]
    return out


def _slower(comparisons: list[Comparison], noise: dict[str, float]) -> list[str]:
    """Ratios above 1, split at the noise threshold of their device."""
    slower = sorted((c for c in comparisons if not c.error and c.ratio > 1.0), key=lambda c: -c.ratio)
    beyond = [c for c in slower if c.ratio > 1 + _threshold(noise, c.device)]
    within = [c for c in slower if c not in beyond]
    floors = ", ".join(f"{d} ±{100 * n:.1f}%" for d, n in noise.items())
    out = ["", "## Slower than the reference", "",
           f"Noise: the same reference timed against a copy of itself (A/A) spread {floors or 'n/a'}; "
           f"ratios within max(5%, that spread) of 1 are listed as within noise.", ""]  # fmt: skip
    for c in beyond:
        tags = "".join(f" ({t})" for t in c.ref.tags)
        pass_ = "forward+backward" if c.backward else "forward"
        out.append(f"- **{c.ref.block}** vs {c.ref.name}{tags}: {c.ratio:.2f}x at {c.device} {_shape(c.shape)} {pass_}")
    out += [] if beyond else ["None beyond noise."]
    if within:
        worst: dict[str, float] = {}
        for c in within:
            worst[c.ref.block] = max(worst.get(c.ref.block, 0.0), c.ratio)
        out += ["", "Within noise (largest ratio): " + ", ".join(f"{b} {r:.2f}" for b, r in worst.items()) + "."]
    return out


def _threshold(noise: dict[str, float], device: str) -> float:
    return max(NOISE_MIN, noise.get(device, 0.0))


def noise_floor(refs: list[Reference], device: str, min_run_time: float) -> float:
    """The largest |ratio - 1| of A/A pairs: references timed against copies of themselves."""
    spread = 0.0
    for ref in [r for r in refs if r.label in NOISE_REFERENCES]:
        for shape in SHAPES:
            for backward, _ in PASSES:
                module = randomize_(ref.make(shape[1], shape[2:]))
                runs = [_runner(m, _input(shape), backward, device) for m in (module, copy.deepcopy(module))]
                spread = max(spread, abs(_paired(*runs, min_run_time)[2] - 1))
    return spread


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="+", help="catalog ids to run (default: every block)")
    parser.add_argument("--min-run-time", type=float, default=0.3, help="seconds of timed passes per measurement")
    parser.add_argument("--devices", nargs="+", choices=("cpu", "cuda"), help="default: cpu, and cuda when present")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's); 1 is steadiest on a busy machine")
    parser.add_argument("--no-references", action="store_true", help="skip the reference comparisons")
    parser.add_argument("--no-blocks", action="store_true", help="run only the reference comparisons")
    parser.add_argument("--out", type=Path, help="write the Markdown report here (default: print it)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    specs, skipped = select(args.ids)
    rows = [] if args.no_blocks else run_blocks(specs, devices, args.min_run_time)
    comparisons, noise = [], {}
    if not args.no_references:
        comparisons, noise = run_comparisons(args.ids, devices, args.min_run_time)
    command = "python benchmarks/blocks.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(rows, comparisons, noise, skipped, devices, command.strip(), time.perf_counter() - start)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def run_blocks(specs: list[BlockSpec], devices: list[str], min_run_time: float) -> list[Row]:
    rows = []
    for device in devices:
        for spec in specs:
            for shape in SHAPES:
                for backward, name in PASSES:
                    rows.append(measure_block(spec, shape, backward, device, min_run_time))
                    _progress(rows[-1], name)
    return rows


def run_comparisons(ids: list[str] | None, devices: list[str], min_run_time: float) -> tuple[list[Comparison], dict[str, float]]:
    """Every block against its references, and the A/A noise floor of each device."""
    try:
        import_references()
    except ImportError as error:
        print(f"references not importable ({error}): no comparisons", file=sys.stderr)
        return [], {}
    refs, comparisons, noise = comparable(REFERENCES, ids), [], {}
    for device in devices:
        noise[device] = noise_floor(REFERENCES, device, min_run_time)
        print(f"{device} A/A noise: ±{100 * noise[device]:.1f}%", file=sys.stderr)
        for ref in refs:
            for shape in SHAPES:
                for backward, _ in PASSES:
                    comparisons.append(compare(ref, shape, backward, device, min_run_time))
                    _compared(comparisons[-1])
    return comparisons, noise


def _progress(row: Row, name: str) -> None:
    what = f"{row.figures.latency_s * 1e3:9.3f} ms" if row.figures else f"failed: {row.error[:80]}"
    print(f"{row.device} {row.block:28} {_shape(row.shape):12} {name:17} {what}", file=sys.stderr)


def _compared(c: Comparison) -> None:
    pass_ = "fwd+bwd" if c.backward else "fwd"
    print(f"{c.device} {c.ref.label:48} {_shape(c.shape):12} {pass_:8} ratio {c.ratio:.2f} {c.error[:80]}", file=sys.stderr)


if __name__ == "__main__":
    main()
