"""Real classes of six packages to wire blocks into, each with the full model that uses it.

A case names a class in a file of a package (its path inside the site), the
attribute to wire next to (``--after ATTR``, or ``--replace ATTR`` for conv-like
blocks), and how to build the package's own full model that contains the class,
with the input it runs on. ``expect="refused"``: no single channel expression fits,
and plugforge must refuse with a message. ``note`` says which pattern the case covers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]
SMALL = ((2, 3, 64, 64),)  # batch 2: train-mode BatchNorm on pooled 1x1 maps needs more than one value
IMAGENET = ((1, 3, 224, 224),)  # pytorchcv ends in a fixed 7x7 average pool


@dataclass(frozen=True)
class Case:
    package: str  # key of tests.realworld.packages.PACKAGES
    file: str  # path inside the site
    cls: str
    anchor: str
    build: Callable[[], Any]  # the package's full model, imported from the site when called
    inputs: tuple[Shape, ...] = SMALL
    block: str = "se"
    replace: bool = False  # --replace ANCHOR instead of --after ANCHOR
    expect: str = "wired"  # or "refused"
    note: str = ""
    measure: str = ""  # --build EXPR: the source cannot tell the channels, plugforge measures them

    @property
    def id(self) -> str:
        return f"{self.package}:{self.cls}.{self.anchor}:{'replace-' if self.replace else ''}{self.block}"

    @property
    def module(self) -> str:
        return self.file.removesuffix(".py").replace("/", ".")


def _factory(module: str, name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: getattr(importlib.import_module(module), name)(*args, **kwargs)


def torchvision(name: str, module: str = "torchvision.models", **kwargs: Any) -> Callable[[], Any]:
    return _factory(module, name, weights=None, **kwargs)


def timm(name: str) -> Callable[[], Any]:
    return _factory("timm", "create_model", name, pretrained=False)


def yolo(config: str, task: str = "DetectionModel") -> Callable[[], Any]:
    return _factory("ultralytics.nn.tasks", task, config, verbose=False)


def smp(architecture: str, **kwargs: Any) -> Callable[[], Any]:
    return _factory("segmentation_models_pytorch", architecture, encoder_name="resnet18", encoder_weights=None, **kwargs)


def pytorchcv(module: str, name: str) -> Callable[[], Any]:
    return _factory(f"pytorchcv.models.{module}", name, pretrained=False)


def monai(name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return _factory("monai.networks.nets", name, *args, **kwargs)


def _monai_2d(name: str, **kwargs: Any) -> Callable[[], Any]:
    return monai(name, spatial_dims=2, in_channels=3, out_channels=2, **kwargs)


TV = "torchvision/models/"
TIMM = "timm/models/"
ULTRA = "ultralytics/nn/modules/"
SMP = "segmentation_models_pytorch/"
CV = "pytorchcv/models/"
MONAI = "monai/networks/"

RAFT_INPUTS = ((1, 3, 128, 128), (1, 3, 128, 128))  # two frames, at least 128 for its correlation pyramid
MONAI_UNET = {"channels": (8, 16, 32), "strides": (2, 2)}
DYNUNET = {"kernel_size": (3, 3, 3), "strides": (1, 2, 2), "upsample_kernel_size": (2, 2)}
MONAI_RESNET = {"layers": (1, 1, 1, 1), "block_inplanes": (16, 32, 64, 128), "spatial_dims": 2, "n_input_channels": 3}

CASES = [
    # torchvision: layer factories (norm_layer), Sequentials built from lists, helpers from ..ops.misc
    Case("torchvision", TV + "resnet.py", "BasicBlock", "bn2", torchvision("resnet18"), note="norm_layer(planes) factory"),
    Case("torchvision", TV + "resnet.py", "Bottleneck", "bn3", torchvision("resnet50"), note="norm_layer factory"),
    Case("torchvision", TV + "mobilenetv2.py", "InvertedResidual", "conv", torchvision("mobilenet_v2"),
         note="Sequential(*layers) built by append/extend; called in both arms of an if"),
    Case("torchvision", TV + "mobilenetv3.py", "InvertedResidual", "block", torchvision("mobilenet_v3_small"),
         note="Sequential(*layers) of Conv2dNormActivation imported from ..ops.misc"),
    Case("torchvision", TV + "efficientnet.py", "MBConv", "block", torchvision("efficientnet_b0"), block="eca",
         note="Sequential built in steps; eca: the file imports torchvision's own SqueezeExcitation"),
    Case("torchvision", TV + "shufflenetv2.py", "InvertedResidual", "branch2", torchvision("shufflenet_v2_x0_5"),
         note="Sequential literal called in both arms of an if"),
    Case("torchvision", TV + "densenet.py", "_DenseLayer", "conv2", torchvision("densenet121"),
         note="forward with TorchScript overloads"),
    Case("torchvision", TV + "squeezenet.py", "Fire", "squeeze", torchvision("squeezenet1_1")),
    Case("torchvision", TV + "googlenet.py", "BasicConv2d", "bn", torchvision("googlenet", aux_logits=False, init_weights=False)),
    Case("torchvision", TV + "regnet.py", "ResBottleneckBlock", "f", torchvision("regnet_y_400mf"), block="eca",
         note="an nn.Sequential subclass of the same file built from an OrderedDict"),
    Case("torchvision", TV + "convnext.py", "CNBlock", "block", torchvision("convnext_tiny"),
         note="Sequential ending in Linear + Permute back to NCHW"),
    Case("torchvision", TV + "segmentation/deeplabv3.py", "ASPP", "project",
         torchvision("deeplabv3_mobilenet_v3_large", "torchvision.models.segmentation", weights_backbone=None)),
    Case("torchvision", TV + "optical_flow/raft.py", "ResidualBlock", "convnormrelu2", torchvision("raft_large", "torchvision.models.optical_flow"),
         RAFT_INPUTS, note="Conv2dNormActivation from ..ops.misc with keyword arguments"),
    # timm: create_conv2d / ConvNormAct helpers, norm_act_layer and norm_layer factories
    Case("timm", TIMM + "resnet.py", "BasicBlock", "bn2", timm("resnet18"), note="norm_layer(outplanes, **dd)"),
    Case("timm", TIMM + "resnet.py", "Bottleneck", "bn3", timm("resnet26")),
    Case("timm", TIMM + "_efficientnet_blocks.py", "DepthwiseSeparableConv", "bn2", timm("efficientnet_b0"),
         note="norm_act_layer(out_chs, apply_act=...)"),
    Case("timm", TIMM + "_efficientnet_blocks.py", "InvertedResidual", "bn3", timm("mobilenetv3_small_100")),
    Case("timm", TIMM + "_efficientnet_blocks.py", "EdgeResidual", "bn2", timm("tf_efficientnetv2_b0")),
    Case("timm", TIMM + "byobnet.py", "BottleneckBlock", "conv3_1x1", timm("gernet_s"),
         note="layers.conv_norm_act(...): a factory held by a config object"),
    Case("timm", TIMM + "cspnet.py", "BottleneckBlock", "conv3", timm("cspresnet50"), note="ConvNormAct from ..layers"),
    Case("timm", TIMM + "ghostnet.py", "GhostBottleneck", "ghost2", timm("ghostnet_100"), note="GhostModule of the same file"),
    Case("timm", TIMM + "regnet.py", "Bottleneck", "conv3", timm("regnetx_002")),
    Case("timm", TIMM + "rexnet.py", "LinearBottleneck", "conv_pwl", timm("rexnet_100")),
    Case("timm", TIMM + "sknet.py", "SelectiveKernelBasic", "conv2", timm("skresnet18")),
    Case("timm", TIMM + "convnext.py", "ConvNeXtBlock", "conv_dw", timm("convnext_atto"), note="create_conv2d(...)"),
    # Ultralytics: Conv imported from .conv into block.py, blocks built from YAML
    Case("ultralytics", ULTRA + "conv.py", "Conv", "bn", yolo("yolov8n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "Bottleneck", "cv2", yolo("yolov8n.yaml"),
         note="Conv from .conv; called in both arms of a conditional expression"),
    Case("ultralytics", ULTRA + "block.py", "C2f", "cv2", yolo("yolov8n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "SPPF", "cv2", yolo("yolov8n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "C3", "cv3", yolo("yolov5n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "GhostBottleneck", "conv", yolo("yolov8n-ghost.yaml"),
         note="Sequential literal of GhostConv/DWConv from .conv"),
    Case("ultralytics", ULTRA + "conv.py", "GhostConv", "cv2", yolo("yolov8n-ghost.yaml")),
    Case("ultralytics", ULTRA + "block.py", "CIB", "cv1", yolo("yolov10n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "RepNCSPELAN4", "cv4", yolo("yolov9t.yaml")),
    Case("ultralytics", ULTRA + "block.py", "A2C2f", "cv2", yolo("yolo12n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "PSABlock", "ffn", yolo("yolo11n.yaml")),
    Case("ultralytics", ULTRA + "block.py", "Proto", "cv3", yolo("yolov8n-seg.yaml", "SegmentationModel")),
    # segmentation_models_pytorch: md.Conv2dReLU from ..base.modules, decoders on a timm/torchvision encoder
    Case("segmentation_models_pytorch", SMP + "decoders/unet/decoder.py", "UnetDecoderBlock", "conv2", smp("Unet"),
         note="md.Conv2dReLU (an nn.Sequential subclass of another module)"),
    Case("segmentation_models_pytorch", SMP + "decoders/fpn/decoder.py", "FPNBlock", "skip_conv", smp("FPN")),
    Case("segmentation_models_pytorch", SMP + "decoders/fpn/decoder.py", "Conv3x3GNReLU", "block", smp("FPN")),
    Case("segmentation_models_pytorch", SMP + "decoders/linknet/decoder.py", "DecoderBlock", "block", smp("Linknet")),
    Case("segmentation_models_pytorch", SMP + "decoders/pspnet/decoder.py", "PSPBlock", "pool", smp("PSPNet")),
    Case("segmentation_models_pytorch", SMP + "decoders/manet/decoder.py", "MFABBlock", "conv2", smp("MAnet")),
    Case("segmentation_models_pytorch", SMP + "decoders/deeplabv3/decoder.py", "DeepLabV3PlusDecoder", "block2",
         smp("DeepLabV3Plus")),
    # pytorchcv: conv3x3_block & co. from .common
    Case("pytorchcv", CV + "resnet.py", "ResBlock", "conv2", pytorchcv("resnet", "resnet10"), IMAGENET,
         note="conv3x3_block from .common"),
    Case("pytorchcv", CV + "resnet.py", "ResUnit", "body", pytorchcv("resnet", "resnet10"), IMAGENET,
         note="anchor assigned in both arms of an if"),
    Case("pytorchcv", CV + "common/conv.py", "ConvBlock", "bn", pytorchcv("resnet", "resnet10"), IMAGENET,
         note="anchor assigned and called under if self.use_bn"),
    Case("pytorchcv", CV + "mobilenetv2.py", "LinearBottleneck", "conv3", pytorchcv("mobilenetv2", "mobilenetv2_wd4"),
         IMAGENET),
    Case("pytorchcv", CV + "squeezenet.py", "FireUnit", "squeeze", pytorchcv("squeezenet", "squeezenet_v1_1"), IMAGENET),
    Case("pytorchcv", CV + "mnasnet.py", "DwsExpSEResUnit", "pw_conv", pytorchcv("mnasnet", "mnasnet_b1"), IMAGENET),
    Case("pytorchcv", CV + "ghostnet.py", "GhostExpBlock", "pw_conv", pytorchcv("ghostnet", "ghostnet"), ((2, 3, 224, 224),),
         note="batch 2: its head has a BatchNorm on the pooled 1x1 map"),
    # MONAI (2-D): get_conv_layer / get_norm_layer factories, Sequentials filled with add_module
    Case("monai", MONAI + "blocks/convolutions.py", "ResidualUnit", "conv", _monai_2d("UNet", num_res_units=2, **MONAI_UNET),
         note="nn.Sequential() filled with add_module in a loop"),
    Case("monai", MONAI + "blocks/segresnet_block.py", "ResBlock", "conv2", _monai_2d("SegResNet", init_filters=8),
         note="get_conv_layer(...)"),
    Case("monai", MONAI + "blocks/dynunet_block.py", "UnetResBlock", "norm2", _monai_2d("DynUNet", res_block=True, **DYNUNET),
         note="get_norm_layer(name=..., channels=...)"),
    Case("monai", MONAI + "blocks/dynunet_block.py", "UnetBasicBlock", "norm2", _monai_2d("DynUNet", **DYNUNET)),
    Case("monai", MONAI + "nets/basic_unet.py", "UpCat", "convs", _monai_2d("BasicUNet", features=(8, 8, 16, 32, 64, 8))),
    Case("monai", MONAI + "nets/attentionunet.py", "ConvBlock", "conv", _monai_2d("AttentionUnet", **MONAI_UNET),
         note="Sequential(*layers) of Convolution from ..blocks"),
    Case("monai", MONAI + "nets/efficientnet.py", "MBConvBlock", "_bn2",
         monai("EfficientNetBN", "efficientnet-b0", spatial_dims=2, num_classes=10, pretrained=False)),
    Case("monai", MONAI + "nets/unet.py", "UNet", "model", _monai_2d("UNet", **MONAI_UNET),
         measure="UNet(2, 3, 2, (4, 8), (2,))", note="_create_block, a nested function: channels measured at run time"),
    Case("monai", MONAI + "nets/resnet.py", "ResNetBottleneck", "bn3", monai("ResNet", "bottleneck", **MONAI_RESNET),
         note="norm_layer = partial(get_norm_layer, ...)"),
    Case("monai", MONAI + "nets/segresnet_ds.py", "SegResBlock", "conv2", _monai_2d("SegResNetDS", init_filters=8),
         note="Conv[Conv.CONV, spatial_dims](...): a layer registry indexed by type and dimension"),
    Case("monai", MONAI + "nets/highresnet.py", "HighResBlock", "layers", _monai_2d("HighResNet"),
         note="Sequential(*layers) built in a loop"),
    # no single expression fits: plugforge must refuse
    Case("torchvision", TV + "quantization/resnet.py", "QuantizableBasicBlock", "bn2",
         torchvision("resnet18", "torchvision.models.quantization", quantize=False), expect="refused",
         note="anchor assigned only in the parent class (resnet.BasicBlock)"),
    Case("timm", TIMM + "_efficientnet_blocks.py", "CondConvResidual", "bn3", timm("efficientnet_cc_b0_4e"),
         expect="refused", note="anchor assigned only in the parent class InvertedResidual"),
    Case("timm", TIMM + "densenet.py", "DenseLayer", "conv2", timm("densenet121"), expect="refused",
         note="registered with add_module, not an attribute assignment"),
    Case("timm", TIMM + "hrnet.py", "HighResolutionModule", "branches", timm("hrnet_w18_small"), expect="refused",
         note="ModuleList of branches of different widths"),
    Case("ultralytics", ULTRA + "block.py", "C3k2", "cv2", yolo("yolo11n.yaml"), expect="refused",
         note="forward inherited from C2f, cv2 assigned there"),
    Case("segmentation_models_pytorch", SMP + "decoders/unet/decoder.py", "UnetDecoder", "blocks", smp("Unet"),
         expect="refused", note="ModuleList of decoder blocks of different widths"),
    Case("monai", MONAI + "nets/basic_unet.py", "TwoConv", "conv_1", _monai_2d("BasicUNet", features=(8, 8, 16, 32, 64, 8)),
         expect="refused", note="nn.Sequential subclass: add_module and the inherited forward"),
]

# other blocks than SE, and conv-like blocks replacing real 3x3 convs
EXTRA_CASES = [
    Case("torchvision", TV + "resnet.py", "BasicBlock", "bn2", torchvision("resnet18"), block="cbam"),
    Case("ultralytics", ULTRA + "block.py", "C2f", "cv2", yolo("yolov8n.yaml"), block="coord_att"),
    Case("pytorchcv", CV + "resnet.py", "ResBlock", "conv2", pytorchcv("resnet", "resnet10"), IMAGENET, block="eca"),
    Case("monai", MONAI + "nets/resnet.py", "ResNetBottleneck", "bn3", monai("ResNet", "bottleneck", **MONAI_RESNET),
         block="coord_att"),
    Case("torchvision", TV + "resnet.py", "BasicBlock", "conv2", torchvision("resnet18"), block="dwsep_conv", replace=True,
         note="conv3x3(planes, planes): a helper function of the same file"),
    Case("torchvision", TV + "densenet.py", "_DenseLayer", "conv2", torchvision("densenet121"), block="ghost", replace=True),
    Case("timm", TIMM + "dla.py", "DlaBasic", "conv2", timm("dla34"), block="dwsep_conv", replace=True,
         note="nn.Conv2d with dilation"),
]
