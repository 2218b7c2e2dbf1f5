"""What plugforge knows about torch.nn layers: signatures and channel arguments."""

from __future__ import annotations

CONV_SIGNATURE = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
    "device",
    "dtype",
)
CONV_TRANSPOSE_SIGNATURE = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "groups",
    "bias",
    "dilation",
    "padding_mode",
    "device",
    "dtype",
)
BATCH_NORM_SIGNATURE = ("num_features", "eps", "momentum", "affine", "track_running_stats", "device", "dtype")

SIGNATURES: dict[str, tuple[str, ...]] = {
    **{f"Conv{d}d": CONV_SIGNATURE for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": CONV_TRANSPOSE_SIGNATURE for d in (1, 2, 3)},
    **{f"BatchNorm{d}d": BATCH_NORM_SIGNATURE for d in (1, 2, 3)},
    **{f"InstanceNorm{d}d": BATCH_NORM_SIGNATURE for d in (1, 2, 3)},
    "SyncBatchNorm": BATCH_NORM_SIGNATURE,
    "GroupNorm": ("num_groups", "num_channels", "eps", "affine", "device", "dtype"),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine", "bias", "device", "dtype"),
    "Linear": ("in_features", "out_features", "bias", "device", "dtype"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "Upsample": ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"),
}

# A user-defined class named like a norm layer (``LayerNorm2d(dim)``) takes channels first.
NORM_LIKE = "norm-like"
SIGNATURES[NORM_LIKE] = ("num_features",)
# A factory nothing more is known of, read by its argument names (see OUTPUT_NAMES).
CONVENTION = "named by convention"

CONV = {name for name in SIGNATURES if name.startswith("Conv")} | {CONVENTION}
NORM = {name for name in SIGNATURES if "Norm" in name} | {NORM_LIKE}
POOL = {"MaxPool2d", "AvgPool2d"}
REPLACEABLE = {"Conv2d", *POOL, "ConvTranspose2d", "Upsample"}  # the last two by upsamplers only

OUTPUT_CHANNELS = {
    **{name: "out_channels" for name in CONV},
    **{name: "num_features" for name in NORM},
    "GroupNorm": "num_channels",
    "LayerNorm": "normalized_shape",
    "Linear": "out_features",
}
INPUT_CHANNELS = {
    **OUTPUT_CHANNELS,
    **{name: "in_channels" for name in CONV},
    "Linear": "in_features",
}

# Layers that keep the channel count; tracing the data flow walks through them.
CHANNEL_PRESERVING = {
    "ReLU",
    "ReLU6",
    "SiLU",
    "GELU",
    "Hardswish",
    "Hardsigmoid",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "SELU",
    "CELU",
    "Mish",
    "PReLU",
    "Softplus",
    "Identity",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "DropPath",
    "DropBlock2d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "Upsample",
    "UpsamplingNearest2d",
    "UpsamplingBilinear2d",
}
FUNCTIONAL_PRESERVING = {
    "relu",
    "relu6",
    "silu",
    "gelu",
    "hardswish",
    "sigmoid",
    "tanh",
    "leaky_relu",
    "elu",
    "mish",
    "dropout",
    "max_pool2d",
    "avg_pool2d",
    "interpolate",
}
# Tensor methods that keep the data but change the layout.
LAYOUT_SWAPS = {"permute", "transpose"}
# Module methods that return the module itself: ``nn.Conv2d(...).requires_grad_(False)``.
RETURNS_SELF = {"requires_grad_", "to", "train", "eval", "cpu", "cuda", "float", "half", "bfloat16", "double"}
LAYOUT_KEEPING = {"contiguous", "clone", "float", "to", "type_as"}
ACTIVATION_WORDS = ("act", "activation", "relu", "silu", "gelu", "drop", "identity", "nonlinearity")

TORCH_PREFIXES = ("nn.", "torch.nn.")


def torch_layer(dotted: str) -> str | None:
    """``Conv2d`` for ``nn.Conv2d``, ``torch.nn.Conv2d`` or a bare ``Conv2d``."""
    last = dotted.rsplit(".", 1)[-1]
    is_torch_path = "." not in dotted or dotted.startswith(TORCH_PREFIXES)
    if not is_torch_path:
        return None
    if last in SIGNATURES or last in CHANNEL_PRESERVING or last in ("Sequential", "ModuleList"):
        return last
    return None


def looks_like_norm(name: str) -> bool:
    return name.rsplit(".", 1)[-1].endswith(("Norm", "Norm1d", "Norm2d", "Norm3d"))


def looks_like_activation(attribute: str) -> bool:
    return any(word in attribute.lower() for word in ACTIVATION_WORDS)


# Argument names that carry a layer's channels by convention across model code bases,
# read where a factory's definition cannot be (``create_conv2d(in_chs, out_chs, 3)``).
OUTPUT_NAMES = (
    "out_channels",
    "out_chs",
    "out_planes",
    "out_chns",
    "out_features",
    "oup",
    "c2",
    "num_features",
    "num_channels",
    "channels",
    "planes",
)
INPUT_NAMES = ("in_channels", "in_chs", "in_planes", "inplanes", "in_chns", "in_features", "inp", "c1")


def factory_kind(dotted: str) -> str | None:
    """``norm`` or ``conv`` for a factory named like one (``norm_layer``, ``get_conv_layer``)."""
    last = dotted.rsplit(".", 1)[-1].lower()
    if "conv" in last:
        return "conv"
    return "norm" if "norm" in last or last.startswith("bn") else None
