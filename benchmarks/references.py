"""Reference implementations of catalog blocks (timm, torchvision) and how to map their weights.

Each ``Reference`` names a catalog block, the ``--set`` values (``settings``) under
which the rendered block computes exactly what the reference computes, a factory
that builds the reference for a channel count, and a function that copies the
reference's weights into the rendered block. ``tests/test_reference_parity.py``
checks the outputs agree; ``benchmarks/blocks.py`` times both side by side.

Where the two differ by design the reference (or the block) is configured to the
same setting and ``note`` says what was pinned; a pair that cannot be configured
alike is not listed, and the difference is stated in the entry instead.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import sys
import types
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from plugforge.catalog.spec import find
from plugforge.rendering.render import render

Settings = Callable[[int], dict[str, Any]]


@functools.lru_cache(maxsize=None)
def import_references() -> types.SimpleNamespace:
    """Import timm and torchvision, or raise ImportError when either is not installed.

    The torchvision wheel on the package index is a CUDA build: with the CPU torch its
    compiled ops cannot register, and ``import torchvision`` fails inside
    ``torchvision._meta_registrations`` (the fake-tensor kernels of those ops). None of
    the references used here needs a compiled op, so an empty stand-in for that module
    lets the pure-Python parts import. Where torchvision imports normally, the stand-in
    only drops the meta kernels, which nothing here uses.
    """
    for name in ("torchvision", "timm"):
        if importlib.util.find_spec(name) is None:
            raise ImportError(f"{name} is not installed")
    stub = "torchvision._meta_registrations"
    if "torchvision" not in sys.modules:
        sys.modules.setdefault(stub, types.ModuleType(stub))
    import timm.layers
    import timm.layers.bottleneck_attn
    import timm.layers.cbam
    import timm.layers.coord_attn
    import timm.layers.gather_excite
    import timm.layers.halo_attn
    import timm.models._efficientnet_blocks
    import timm.models.byobnet
    import timm.models.fasternet
    import timm.models.ghostnet
    import timm.models.mobilevit
    import timm.models.volo
    import timm.models.shvit
    import timm.models.swiftformer
    import torchvision.models.mobilenetv2
    import torchvision.models.mobilenetv3
    import torchvision.models.resnet
    import torchvision.models.segmentation.deeplabv3
    import torchvision.models.shufflenetv2
    import torchvision.models.squeezenet
    import torchvision.ops

    return types.SimpleNamespace(timm=timm, torchvision=torchvision)


def torchvision_ops_available() -> bool:
    """Whether torchvision's compiled ops (deform_conv2d, ...) run with this torch."""
    try:
        import_references()
        import torchvision.extension

        torchvision.extension._assert_has_ops()
    except (ImportError, RuntimeError):
        return False
    return True


# -- rendered blocks -------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _rendered(block_id: str, values_json: str) -> types.ModuleType:
    spec = find(block_id)
    text = render(spec, json.loads(values_json), with_tests=False).block
    module = types.ModuleType(f"plugforge_rendered_{block_id}")
    exec(compile(text, f"<rendered {block_id}>", "exec"), module.__dict__)  # noqa: S102
    return module


def build_block(block_id: str, channels: int, settings: dict[str, Any] | None = None) -> nn.Module:
    """Render ``block_id`` with ``settings`` as its --set values and build it for ``channels``.

    Parameters without a default (channels, in_channels, out_channels, ...) are
    constructor arguments: they take ``settings[name]`` when given, else ``channels``.
    """
    spec, settings = find(block_id), dict(settings or {})
    values = spec.defaults()
    required = {}
    for name, value in settings.items():
        param = spec.param(name)
        param.check(value)
        (required if param.required else values)[name] = value
    spec.check_relations({**values, **required})
    module = _rendered(block_id, json.dumps(values, sort_keys=True))
    args = {name: required.get(name, channels) for name, p in spec.params.items() if p.required}
    return getattr(module, spec.class_name)(**args)


# -- weights ---------------------------------------------------------------------------


def _entries(module: nn.Module, drop: Sequence[str] = (), order: Sequence[str] = ()) -> list[tuple[str, torch.Tensor]]:
    items = [(k, v) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]
    items = [(k, v) for k, v in items if not any(k.startswith(p) for p in drop)]
    rank = lambda kv: next((i for i, p in enumerate(order) if kv[0].startswith(p)), len(order))  # noqa: E731
    return sorted(items, key=rank)  # stable: the module's own order within each prefix


@torch.no_grad()
def copy_in_order(ref: nn.Module, block: nn.Module, drop: Sequence[str] = (), order: Sequence[str] = ()) -> None:
    """Copy every parameter and buffer of ``ref`` into ``block``, pairing them in state-dict order.

    ``drop``: reference entries the block does not have (zeroed in the reference, not
    copied). ``order``: reference key prefixes in the block's order, where the two
    declare their layers in different orders. Paired shapes must agree but for size-1
    dims (a Linear's weight vs a 1x1 conv's, a LayerNorm2d's vs LayerNorm([C, 1, 1])'s).
    """
    for key, value in ref.state_dict().items():
        if any(key.startswith(p) for p in drop):
            value.zero_()
    src, dst = _entries(ref, drop, order), _entries(block)
    if len(src) != len(dst):
        raise ValueError(f"{len(src)} reference tensors vs {len(dst)} block tensors:\n{[k for k, _ in src]}\n{[k for k, _ in dst]}")
    for (ks, vs), (kd, vd) in zip(src, dst):
        if [n for n in vs.shape if n != 1] != [n for n in vd.shape if n != 1]:
            raise ValueError(f"reference {ks} {tuple(vs.shape)} does not fit block {kd} {tuple(vd.shape)}")
        vd.copy_(vs.reshape(vd.shape))


@torch.no_grad()
def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, norm affines and running statistics, so that each of them matters."""
    gen = torch.Generator().manual_seed(seed)
    uniform = lambda t, lo, hi: t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)  # noqa: E731
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point():
            continue
        if name.endswith("running_var"):
            uniform(tensor, 0.5, 2.0)
        elif name.endswith("running_mean"):
            uniform(tensor, -0.3, 0.3)
        elif tensor.dim() >= 2:  # weights: unit-variance outputs for unit-variance inputs
            bound = (3 / tensor[0].numel()) ** 0.5
            uniform(tensor, -bound, bound)
        elif name.endswith("weight"):  # norm scales
            uniform(tensor, 0.5, 1.5)
        else:
            uniform(tensor, -0.3, 0.3)
    return module


# -- the table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    block: str  # catalog id
    name: str  # what the reference is, e.g. "timm.layers.SEModule"
    build: Callable[..., nn.Module]  # the reference for a channel count (and map size, if sized)
    settings: Settings = lambda c: {}  # --set values that make the block compute the same
    copy: Callable[[nn.Module, nn.Module], None] = copy_in_order  # reference weights -> block
    note: str = ""  # the difference by design that was pinned, if any
    inputs: Callable[[int, int, tuple[int, int]], tuple[torch.Tensor, ...]] | None = None  # (C, batch, (H, W))
    select: Callable[[torch.Tensor], torch.Tensor] | None = None  # the part of the output to compare
    size: tuple[int, int] = (15, 13)  # (H, W) of the parity input: odd and not square
    channels: int = 32  # channel count of the parity input
    needs_ops: bool = False  # needs torchvision's compiled ops
    sized: bool = False  # build takes (C, (H, W)): the reference fixes the map size at construction
    tags: tuple[str, ...] = field(default=())

    def make(self, channels: int, size: tuple[int, int] | None = None) -> nn.Module:
        """The reference for ``channels`` (and, where it fixes one, the map size; default ``self.size``)."""
        return self.build(channels, size or self.size) if self.sized else self.build(channels)

    @property
    def label(self) -> str:
        return f"{self.block}-{self.name.rsplit('.', 1)[-1]}" + "".join(f"-{t}" for t in self.tags)


def _ns() -> types.SimpleNamespace:
    return import_references()


class _Function(nn.Module):
    """A reference that is a plain function of one tensor."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class _ChannelsLast(nn.Module):
    """A reference that takes and returns (B, H, W, C), fed NCHW like the rendered block."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _Residual(nn.Module):
    """x + branch(x): a reference that is the residual branch of the rendered block."""

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class _TorchvisionFPN(nn.Module):
    """torchvision's FPN with positional inputs and a tuple out, like the rendered block."""

    def __init__(self, in_channels: list[int], out_channels: int, extra: nn.Module | None = None) -> None:
        super().__init__()
        self.fpn = _ns().torchvision.ops.FeaturePyramidNetwork(in_channels, out_channels, extra)

    def forward(self, *features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        named = OrderedDict((f"c{i}", x) for i, x in enumerate(features))
        return tuple(self.fpn(named).values())


class _TorchvisionDeform(nn.Module):
    """torchvision's DeformConv2d fed by an offset (and mask) conv, as the rendered block is."""

    def __init__(self, channels: int, modulated: bool) -> None:
        super().__init__()
        self.deform = _ns().torchvision.ops.DeformConv2d(channels, channels, 3)
        self.conv_offset = nn.Conv2d(channels, (3 if modulated else 2) * 9, 3)
        self.modulated = modulated

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.conv_offset(x)
        if not self.modulated:
            return self.deform(x, offset)
        offset, mask = offset.split([18, 9], dim=1)
        return self.deform(x, offset, mask.sigmoid())


def _pyramid(c: int, batch: int, size: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    """c3, c4, c5 of a stride-2 backbone: odd sizes, so each upsampling must use the real size."""
    shapes = [[(n + 2**i - 1) // 2**i for n in size] for i in range(3)]
    return tuple(torch.randn(batch, c * 2**i, *hw) for i, hw in enumerate(shapes))


def parity_inputs(ref: Reference, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """The random input(s) of a parity check."""
    if ref.inputs is not None:
        return ref.inputs(ref.channels, batch, ref.size)
    return (torch.randn(batch, ref.channels, *ref.size),)


def _timm_gc(c: int, add: bool, mul: bool, attn: bool = True) -> nn.Module:
    ref = _ns().timm.layers.GlobalContext(c, use_attn=attn, fuse_add=add, fuse_scale=mul, rd_channels=max(1, c // 16))
    for module in ref.modules():  # timm's LayerNorm2d uses eps 1e-6; GCNet's nn.LayerNorm 1e-5
        if isinstance(module, nn.LayerNorm):
            module.eps = 1e-5
    return ref


def _timm_cbam(c: int) -> nn.Module:
    ref = _ns().timm.layers.cbam.CbamModule(c, rd_channels=max(1, c // 16), spatial_kernel_size=7)
    ref.spatial.conv.bn = nn.Identity()  # timm: BatchNorm after the spatial conv; the paper: none
    return ref


def _timm_non_local(c: int, scaled: bool) -> nn.Module:
    ref = _ns().timm.layers.NonLocalAttn(c, use_scale=scaled, rd_channels=c // 8)
    if scaled:  # timm scales by in_channels ** -0.5; the block by the key width's
        ref.scale = (c // 8) ** -0.5
    return ref


@torch.no_grad()
def _copy_halo(ref: nn.Module, block: nn.Module) -> None:
    """timm HaloAttn -> block: kv channels per head [k | v] -> [all k | all v]; the shared
    relative tables (timm's have 2 * window - 1 rows, the block's the block + window - 1
    offsets that occur); the block's output projection (timm has none) set to identity."""
    heads, d = block.num_heads, block.head_dim
    block.q.weight.copy_(ref.q.weight)
    kv = ref.kv.weight.reshape(heads, 2, d, -1).transpose(0, 1)
    block.kv.weight.copy_(kv.reshape(block.kv.weight.shape))
    start = 2 * block.halo_size
    rows = block.rel_height.shape[0]
    block.rel_height.copy_(ref.pos_embed.height_rel[start : start + rows])
    block.rel_width.copy_(ref.pos_embed.width_rel[start : start + rows])
    nn.init.eye_(block.proj.weight.view(block.proj.weight.shape[:2]))
    nn.init.zeros_(block.proj.bias)


@torch.no_grad()
def _copy_bottleneck(ref: nn.Module, block: nn.Module) -> None:
    """timm BottleneckAttn (fixed feat_size) -> block: the same qkv conv; its offset tables
    into the central rows of the block's, which cover maps up to max_size."""
    block.qkv.weight.copy_(ref.qkv.weight)
    for theirs, ours in ((ref.pos_embed.height_rel, block.rel_height), (ref.pos_embed.width_rel, block.rel_width)):
        start = block.max_size - (theirs.shape[0] + 1) // 2
        ours[start : start + theirs.shape[0]].copy_(theirs)


def _timm_mobilevit(c: int) -> nn.Module:
    timm = _ns().timm
    layers = timm.models.byobnet.LayerFn(
        conv_norm_act=functools.partial(timm.layers.ConvNormAct, act_layer=nn.SiLU), act=nn.SiLU
    )  # as timm's mobilevit models build theirs
    return timm.models.mobilevit.MobileVitBlock(c, c, patch_size=2, num_heads=4, mlp_ratio=2.0, layers=layers)


def _timm_ela(c: int) -> nn.Module:
    return _ns().timm.layers.coord_attn.EfficientLocalAttn(
        c, act_layer=nn.Identity, norm_layer=lambda channels, **kwargs: nn.GroupNorm(16, channels, **kwargs)
    )


@torch.no_grad()
def _copy_ela(ref: nn.Module, block: nn.Module) -> None:
    """timm's EfficientLocalAttn has a conv and a norm per direction, the paper one shared pair:
    the reference's column pair is tied to its row pair, which goes into the block."""
    ref.conv_w.weight.copy_(ref.conv_h.weight.reshape(ref.conv_w.weight.shape))
    ref.norm_w.load_state_dict(ref.norm_h.state_dict())
    block.conv.weight.copy_(ref.conv_h.weight.reshape(block.conv.weight.shape))
    block.norm.load_state_dict(ref.norm_h.state_dict())


def _torchvision_mbv3(c: int) -> nn.Module:
    mbv3 = _ns().torchvision.models.mobilenetv3
    config = mbv3.InvertedResidualConfig(c, 3, 6 * c, c, True, "HS", 1, 1, 1.0)
    return mbv3.InvertedResidual(config, nn.BatchNorm2d)


def _timm_uib(c: int, out: int, start: int, middle: int, stride: int = 1, layer_scale: float | None = None) -> nn.Module:
    return _ns().timm.models._efficientnet_blocks.UniversalInvertedResidual(
        c, out, start, middle, stride=stride, exp_ratio=4.0, layer_scale_init_value=layer_scale
    )


def _torchvision_basic(c: int, stride: int) -> nn.Module:
    resnet = _ns().torchvision.models.resnet
    out = c * stride
    down = None if stride == 1 else nn.Sequential(resnet.conv1x1(c, out, stride), nn.BatchNorm2d(out))
    return resnet.BasicBlock(c, out, stride, down)


class _TimmCondConv(nn.Module):
    """timm's CondConv2d fed by its routing (a Linear and a sigmoid on the pooled input), as
    timm's CondConvResidual computes it; the rendered block owns its routing."""

    def __init__(self, channels: int, num_experts: int) -> None:
        super().__init__()
        self.conv = _ns().timm.layers.CondConv2d(channels, channels, 3, bias=True, num_experts=num_experts)
        self.routing = nn.Linear(channels, num_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x, self.routing(x.mean((2, 3))).sigmoid())


@torch.no_grad()
def _copy_condconv(ref: nn.Module, block: nn.Module) -> None:
    """timm keeps each expert flattened, (E, out * in * k * k); the block as (E, out, in, k, k)."""
    block.weight.copy_(ref.conv.weight.view_as(block.weight))
    block.bias.copy_(ref.conv.bias)
    block.routing.load_state_dict(ref.routing.state_dict())


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "se", "timm.layers.SEModule",
        lambda c: _ns().timm.layers.SEModule(c, rd_channels=max(1, c // 16)),
        note="timm rounds the hidden width C/16 to a multiple of 8 (rd_divisor=8, at least 8); "
        "the block uses max(1, C // r) as the paper: timm's rd_channels pinned",
    ),
    Reference(
        "se", "torchvision.ops.SqueezeExcitation",
        lambda c: _ns().torchvision.ops.SqueezeExcitation(c, max(1, c // 16)),
    ),
    Reference(
        "se", "torchvision.ops.SqueezeExcitation",
        lambda c: _ns().torchvision.ops.SqueezeExcitation(c, max(1, c // 16), scale_activation=nn.Hardsigmoid),
        settings=lambda c: {"gate": "hard_sigmoid"},
        tags=("hard_sigmoid",),
    ),
    Reference(
        "eca", "timm.layers.EcaModule",
        lambda c: _ns().timm.layers.EcaModule(c),
        note="timm forces k >= 3, so for C < 8 (where the paper's rule gives k = 1) the two differ; "
        "equal for C >= 8",
    ),
    Reference(
        "cbam", "timm.layers.cbam.CbamModule",
        _timm_cbam,
        note="timm adds a BatchNorm after the spatial conv (removed here) and rounds C/r to the nearest "
        "integer (rd_channels pinned to C // r); its MLP has no biases, like the block",
    ),
    Reference(
        "ela", "timm.layers.coord_attn.EfficientLocalAttn",
        _timm_ela,
        copy=_copy_ela,
        note="timm's variant has a conv and a GroupNorm per direction, one GroupNorm group and a SiLU "
        "before the sigmoid; pinned to the paper's shared conv and norm (timm's tied), 16 groups, no SiLU",
    ),
    Reference(
        "gather_excite", "timm.layers.gather_excite.GatherExcite",
        lambda c: _ns().timm.layers.gather_excite.GatherExcite(c, use_mlp=False),
        note="timm's default puts an SE MLP on the parameter-free gather (use_mlp=True); pinned to the "
        "paper's GE-theta-minus. timm 1.0.31 cannot build its MLP or parametric gathers (its constructor "
        "passes device/dtype positionally), so only the parameter-free ones are compared",
    ),
    Reference(
        "gather_excite", "timm.layers.gather_excite.GatherExcite",
        lambda c: _ns().timm.layers.gather_excite.GatherExcite(c, extent=4, use_mlp=False),
        settings=lambda c: {"extent": 4},
        tags=("extent4",),
    ),
    Reference(
        "gc", "timm.layers.GlobalContext",
        lambda c: _timm_gc(c, add=True, mul=False),
        note="timm defaults to fusion 'mul' with r = 8 and LayerNorm eps 1e-6; pinned to the paper's "
        "'add', r = 16, eps 1e-5 (GCNet's nn.LayerNorm)",
    ),
    Reference(
        "gc", "timm.layers.GlobalContext",
        lambda c: _timm_gc(c, add=True, mul=True, attn=False),
        settings=lambda c: {"fusion": "both", "pooling": "avg"},
        copy=functools.partial(copy_in_order, order=("conv_attn", "mlp_scale", "mlp_add")),
        tags=("both_avg",),
    ),
    Reference(
        "sk", "timm.layers.SelectiveKernel",
        lambda c: _ns().timm.layers.SelectiveKernel(
            c, kernel_size=[3, 5], groups=32, rd_channels=max(c // 16, 32), split_input=False
        ),
        note="timm splits the input channels across the branches by default (split_input=True, its own "
        "modification) and rounds the attention width to a multiple of 8; pinned to the paper's full "
        "input per branch and max(C // r, L)",
        channels=64,
    ),
    Reference(
        "split_attn", "timm.layers.SplitAttn",
        lambda c: _ns().timm.layers.SplitAttn(c, c, radix=2, norm_layer=nn.BatchNorm2d),
        copy=functools.partial(copy_in_order, drop=("fc1.bias",)),
        note="timm defaults to no BatchNorm (norm_layer=None; ResNeSt uses BN); with BN its fc1 keeps a "
        "bias, which the block omits (zeroed here; trained weights fold it into the BN's running mean). "
        "Without an explicit padding timm pads k // 2, ignoring dilation",
    ),
    Reference("blurpool", "timm.layers.BlurPool2d", lambda c: _ns().timm.layers.BlurPool2d(c, 3, 2)),
    Reference(
        "blurpool", "timm.layers.BlurPool2d",
        lambda c: _ns().timm.layers.BlurPool2d(c, 5, 2),
        settings=lambda c: {"filt_size": 5},
        note="timm pads (filt_size + stride - 2) // 2 on every side, the block (and the authors' code) "
        "(filt_size - 1) // 2 before and filt_size // 2 after: equal only for odd filt_size at stride 1 or 2",
        tags=("filt5",),
    ),
    Reference(
        "mixconv", "timm.layers.MixedConv2d",
        lambda c: _ns().timm.layers.MixedConv2d(c, c, [3, 5, 7], depthwise=True, bias=False),
    ),
    Reference(
        "repvgg_block", "timm.models.byobnet.RepVggBlock",
        lambda c: _ns().timm.models.byobnet.RepVggBlock(c, c),
        copy=functools.partial(copy_in_order, order=("conv_kxk", "conv_1x1", "identity")),
    ),
    Reference(
        "repvgg_block", "timm.models.byobnet.RepVggBlock",
        lambda c: _ns().timm.models.byobnet.RepVggBlock(c, 2 * c, stride=2, group_size=8),
        settings=lambda c: {"out_channels": 2 * c, "stride": 2, "groups": c // 8},
        copy=functools.partial(copy_in_order, order=("conv_kxk", "conv_1x1")),
        tags=("stride2_grouped",),
    ),
    Reference(
        "non_local", "timm.layers.NonLocalAttn",
        lambda c: _timm_non_local(c, scaled=False),
        settings=lambda c: {"sub_sample": False, "inter_channels": c // 8, "use_scale": False},
        note="timm has no sub-sampling of keys/values, a width of C/8 (rounded to 8) and scales logits by "
        "C ** -0.5; the block defaults to the paper's sub-sampling and C/2, and scales (use_scale) by "
        "the key width ** -0.5. Pinned: no sub-sampling, width C // 8",
    ),
    Reference(
        "non_local", "timm.layers.NonLocalAttn",
        lambda c: _timm_non_local(c, scaled=True),
        settings=lambda c: {"sub_sample": False, "inter_channels": c // 8, "use_scale": True},
        tags=("scaled",),
    ),
    Reference(
        "coord_att", "timm.layers.coord_attn.CoordAttn",
        lambda c: _ns().timm.layers.coord_attn.CoordAttn(c, rd_channels=max(8, c // 32), bias=True),
        note="timm has no conv biases by default and a hidden width make_divisible(C / 16 * 2/3, 8); "
        "pinned to the paper's max(8, C // 32) with biases",
    ),
    Reference(
        "halo_attn", "timm.layers.halo_attn.HaloAttn",
        lambda c: _ns().timm.layers.halo_attn.HaloAttn(c, num_heads=8, block_size=8, halo_size=3),
        copy=_copy_halo,
        note="timm has no output projection (set to identity in the block) and lets queries attend to the "
        "zero padding of the halo, which the block masks out: compared on the one block whose halo "
        "lies inside the image",
        size=(24, 24),
        select=lambda y: y[..., 8:16, 8:16],
        tags=("interior",),
    ),
    Reference(  # 7x7 blocks tile 14x14 maps as well as 56x56 ones
        "halo_attn", "timm.layers.halo_attn.HaloAttn",
        lambda c: _ns().timm.layers.halo_attn.HaloAttn(c, num_heads=8, block_size=7, halo_size=3),
        settings=lambda c: {"block_size": 7},
        copy=_copy_halo,
        size=(21, 21),
        select=lambda y: y[..., 7:14, 7:14],
        tags=("interior", "block7"),
    ),
    Reference(
        "mhsa", "timm.layers.bottleneck_attn.BottleneckAttn",
        lambda c, size: _ns().timm.layers.bottleneck_attn.BottleneckAttn(c, feat_size=size, scale_pos_embed=True),
        copy=_copy_bottleneck,
        sized=True,
        note="timm scales only q.k by default; the authors' code scales q before the content and the "
        "position logits (timm's scale_pos_embed=True, pinned). timm fixes H, W at construction; the "
        "block's tables cover any map up to max_size (timm's loaded into their central rows)",
    ),
    Reference(
        "outlook_attn", "timm.models.volo.OutlookAttention",
        lambda c: _ChannelsLast(
            _ns().timm.models.volo.OutlookAttention(c, num_heads=math.gcd(c, 6), kernel_size=3, padding=1, stride=2)
        ),
        note="timm (as the official code) takes channels-last input and uses nn.Linear: fed through a "
        "permute, its weights copied into the block's 1x1 convs",
    ),
    Reference(
        "mobilevit_block", "timm.models.mobilevit.MobileVitBlock",
        _timm_mobilevit,
        note="timm's block defaults to patch_size 8 and ReLU; pinned to the paper's 2 x 2 patches and "
        "SiLU (as timm's mobilevit models). The input is off the patch grid: both resize bilinearly",
    ),
    Reference(
        "efficient_additive_attn", "timm.models.swiftformer.EfficientAdditiveAttention",
        lambda c: _ns().timm.models.swiftformer.EfficientAdditiveAttention(c, c, 1),
        note="timm's final layer maps to token_dim, so it works only with token_dim == channels (the default)",
    ),
    Reference(
        "shsa", "timm.models.shvit.SHSA",
        lambda c: _Residual(_ns().timm.models.shvit.SHSA(c, 16, c // 4)),
        note="timm's SHSA is the residual branch; SHViT adds the input (Residual), as the block does",
        size=(7, 9),
    ),
    Reference(
        "ghost", "timm.models.ghostnet.GhostModule",
        lambda c: _ns().timm.models.ghostnet.GhostModule(c, c),
    ),
    Reference(
        "pconv", "timm.models.fasternet.Partial_conv3",
        lambda c: _ns().timm.models.fasternet.Partial_conv3(c, 4, "split_cat"),
    ),
    Reference(
        "dwsep_conv", "timm.models._efficientnet_blocks.DepthwiseSeparableConv",
        lambda c: _ns().timm.models._efficientnet_blocks.DepthwiseSeparableConv(c, c, noskip=True, pw_act=True),
        note="timm's (EfficientNet DS block) defaults to no activation after the pointwise conv and a "
        "residual when shapes match; pinned to MobileNet's conv-BN-ReLU twice",
    ),
    Reference("h_swish", "timm.layers.HardSwish", lambda c: _ns().timm.layers.HardSwish()),
    Reference("h_sigmoid", "timm.layers.HardSigmoid", lambda c: _ns().timm.layers.HardSigmoid()),
    Reference(
        "channel_shuffle", "torchvision.models.shufflenetv2.channel_shuffle",
        lambda c: _Function(functools.partial(_ns().torchvision.models.shufflenetv2.channel_shuffle, groups=2)),
    ),
    Reference(
        "residual", "torchvision.models.resnet.BasicBlock",
        lambda c: _torchvision_basic(c, 1),
    ),
    Reference(
        "residual", "torchvision.models.resnet.BasicBlock",
        lambda c: _torchvision_basic(c, 2),
        settings=lambda c: {"stride": 2, "out_channels": 2 * c},
        tags=("stride2",),
    ),
    Reference(
        "inverted_residual", "torchvision.models.mobilenetv2.InvertedResidual",
        lambda c: _ns().torchvision.models.mobilenetv2.InvertedResidual(c, c, 1, 6),
    ),
    Reference(
        "inverted_residual", "torchvision.models.mobilenetv2.InvertedResidual",
        lambda c: _ns().torchvision.models.mobilenetv2.InvertedResidual(c, 2 * c, 2, 6),
        settings=lambda c: {"stride": 2, "out_channels": 2 * c},
        tags=("stride2",),
    ),
    Reference(
        "mbv3_block", "torchvision.models.mobilenetv3.InvertedResidual",
        _torchvision_mbv3,
        note="torchvision's MobileNetV3 builds BatchNorm with eps=0.001 (the TF port), the block PyTorch's "
        "1e-5: set eps when loading those weights",
    ),
    Reference(
        "uib", "timm.models._efficientnet_blocks.UniversalInvertedResidual",
        lambda c: _timm_uib(c, c, 3, 3),
        note="timm's class defaults to IB (start 0, middle 3) with a 1e-5 layer scale; pinned to the "
        "block's ExtraDW 3 / 3 without layer scale, as MobileNetV4's conv models build it",
    ),
    Reference(
        "uib", "timm.models._efficientnet_blocks.UniversalInvertedResidual",
        lambda c: _timm_uib(c, c, 0, 3, layer_scale=1e-5),
        settings=lambda c: {"start_dw_kernel_size": 0, "layer_scale_init_value": 1e-5},
        tags=("ib", "layer_scale"),
    ),
    Reference(
        "uib", "timm.models._efficientnet_blocks.UniversalInvertedResidual",
        lambda c: _timm_uib(c, 2 * c, 5, 0, stride=2),
        settings=lambda c: {"out_channels": 2 * c, "start_dw_kernel_size": 5, "middle_dw_kernel_size": 0, "stride": 2},
        tags=("convnext", "stride2"),
    ),
    Reference(
        "uib", "timm.models._efficientnet_blocks.UniversalInvertedResidual",
        lambda c: _timm_uib(c, c, 0, 0),
        settings=lambda c: {"start_dw_kernel_size": 0, "middle_dw_kernel_size": 0},
        tags=("ffn",),
    ),
    Reference(
        "aspp", "torchvision.models.segmentation.deeplabv3.ASPP",
        lambda c: _ns().torchvision.models.segmentation.deeplabv3.ASPP(c, [6, 12, 18], 256),
        channels=16,
        size=(9, 11),
    ),
    Reference(
        "fire", "torchvision.models.squeezenet.Fire",
        lambda c: _ns().torchvision.models.squeezenet.Fire(c, c // 2, c // 2, c // 2),
        settings=lambda c: {"variant": "squeezenet"},
        note="the catalog default is CornerNet-Squeeze's fire (BN, depthwise 3x3, residual), which has "
        "no reference here; parity covers variant='squeezenet'",
    ),
    Reference(
        "fpn", "torchvision.ops.FeaturePyramidNetwork",
        lambda c: _TorchvisionFPN([c, 2 * c, 4 * c], 32),
        settings=lambda c: {"in_channels": [c, 2 * c, 4 * c], "out_channels": 32},
        inputs=_pyramid,
        channels=16,
    ),
    Reference(
        "fpn", "torchvision.ops.FeaturePyramidNetwork",
        lambda c: _TorchvisionFPN([c, 2 * c, 4 * c], 32, _ns().torchvision.ops.feature_pyramid_network.LastLevelMaxPool()),
        settings=lambda c: {"in_channels": [c, 2 * c, 4 * c], "out_channels": 32, "extra_blocks": "maxpool"},
        inputs=_pyramid,
        channels=16,
        tags=("maxpool",),
    ),
    Reference(
        "fpn", "torchvision.ops.FeaturePyramidNetwork",
        lambda c: _TorchvisionFPN(
            [c, 2 * c, 4 * c], 32, _ns().torchvision.ops.feature_pyramid_network.LastLevelP6P7(4 * c, 32)
        ),
        settings=lambda c: {"in_channels": [c, 2 * c, 4 * c], "out_channels": 32, "extra_blocks": "p6p7"},
        inputs=_pyramid,
        channels=16,
        note="torchvision's LastLevelP6P7(in, out) computes P6 from P5 when in == out (use_P5, as its "
        "retinanet_resnet50_fpn and fcos do), the block always from C5 as in the RetinaNet paper",
        tags=("p6p7",),
    ),
    Reference(
        "dcn", "torchvision.ops.DeformConv2d",
        lambda c: _TorchvisionDeform(c, modulated=False),
        needs_ops=True,
    ),
    Reference(
        "dcn", "torchvision.ops.DeformConv2d",
        lambda c: _TorchvisionDeform(c, modulated=True),
        settings=lambda c: {"modulated": True},
        needs_ops=True,
        tags=("modulated",),
    ),
    Reference(
        "condconv", "timm.layers.CondConv2d",
        lambda c: _TimmCondConv(c, 8),
        settings=lambda c: {"padding": 1},
        copy=_copy_condconv,
        note="timm's CondConv2d takes the routing weights as a forward argument (CondConv-EfficientNet "
        "shares one routing per block); here they come from a Linear and a sigmoid on the pooled input, "
        "as the block computes them. timm pads k // 2 by default and has no bias; pinned to padding 1 with bias",
    ),
)


def references_for(block_id: str) -> list[Reference]:
    return [r for r in REFERENCES if r.block == block_id]
