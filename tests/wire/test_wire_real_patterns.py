"""Channel inference on the patterns of real model packages: imported helpers, factories, built Sequentials."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from wire_helpers import GATE

from plugforge.wire import Source, WireError, add, anchors, remove

BLOCKS = Source(module="blocks.gate")


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def channels(root: Path, file: str, class_name: str, anchor: str) -> tuple[str | None, str]:
    """The channels ``anchors`` shows and the ``channels:`` note ``add`` prints."""
    path = root / file
    source = path.read_text(encoding="utf-8")
    shown = {a.name: a.channels for a in anchors(source, class_name, path=path)}[anchor]
    result = add(source, GATE, BLOCKS, name="gate", class_name=class_name, after=anchor, path=path)
    note = next(message for message in result.messages if message.startswith("channels: "))
    return shown, note


CONV_MODULE = """
    from torch import nn

    WIDTH = 64


    def autopad(k, p=None):
        return k // 2 if p is None else p


    class Conv(nn.Module):
        default_act = nn.SiLU()

        def __init__(self, c1, c2, k=1, s=1, p=None, act=True):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), bias=False)
            self.bn = nn.BatchNorm2d(c2)
            self.act = self.default_act if act is True else nn.Identity()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))


    class Wide(nn.Module):
        def __init__(self, c1):
            super().__init__()
            self.conv = nn.Conv2d(c1, WIDTH, 1)

        def forward(self, x):
            return self.conv(x)


    class Conv2dReLU(nn.Sequential):
        def __init__(self, in_channels, out_channels, kernel_size):
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=False)
            bn = nn.BatchNorm2d(out_channels)
            super().__init__(conv, bn, nn.ReLU(inplace=True))
"""


@pytest.fixture
def package(tmp_path):
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/nn/__init__.py": "from .conv import Conv, Conv2dReLU, Wide\n",
            "pkg/nn/conv.py": CONV_MODULE,
        },
    )
    return tmp_path


@pytest.mark.parametrize(
    "imports, constructor",
    [
        ("from .nn.conv import Conv", "Conv(c1, c_, 3)"),
        ("from .nn import Conv", "Conv(c1, c_, 3)"),  # re-exported by the package's __init__
        ("from pkg.nn import Conv", "Conv(c1, c_, 3)"),  # absolute, within the same package
        ("from . import nn as md", "md.Conv(c1, c_, 3)"),
        ("from .nn import Conv2dReLU", "Conv2dReLU(c1, c_, 3)"),  # a Sequential subclass
    ],
)
def test_helpers_imported_from_the_package_are_followed(package, imports, constructor):
    write_package(
        package,
        {
            "pkg/block.py": f"""
                from torch import nn

                {imports}


                class Block(nn.Module):
                    def __init__(self, c1, c2, e=0.5):
                        super().__init__()
                        c_ = int(c2 * e)
                        self.cv1 = {constructor}

                    def forward(self, x):
                        return self.cv1(x)
            """
        },
    )
    shown, note = channels(package, "pkg/block.py", "Block", "cv1")
    assert shown == "c_"
    assert note.startswith(f"channels: c_, read from cv1 = {constructor}")


def test_without_the_path_imported_helpers_stay_unknown(package):
    source = "from torch import nn\nfrom .nn import Conv\n\n\nclass B(nn.Module):\n"
    source += "    def __init__(self, c):\n        super().__init__()\n        self.cv = Conv(c, c)\n\n"
    source += "    def forward(self, x):\n        return self.cv(x)\n"
    assert anchors(source, "B")[0].channels is None
    assert anchors(source, "B", path=package / "pkg" / "b.py")[0].channels == "c"


def test_a_module_level_name_of_the_helper_module_is_not_written_into_the_model(package):
    write_package(
        package,
        {
            "pkg/wide.py": """
                from torch import nn

                from .nn import Wide


                class Block(nn.Module):
                    def __init__(self, c):
                        super().__init__()
                        self.cv = Wide(c)

                    def forward(self, x):
                        return self.cv(x)
            """
        },
    )
    path = package / "pkg" / "wide.py"
    assert anchors(path.read_text(), "Block", path=path)[0].channels is None  # WIDTH exists only in conv.py
    with pytest.raises(WireError, match="cannot infer the channels after cv"):
        add(path.read_text(), GATE, BLOCKS, name="gate", after="cv", path=path)


FACTORIES = """
    from functools import partial

    from torch import nn


    class Block(nn.Module):
        def __init__(self, inplanes, planes, norm_layer=None, act_layer=nn.ReLU, conv_layer=None, get_norm=None):
            super().__init__()
            if norm_layer is None:
                norm_layer = nn.BatchNorm2d
            bn = partial(nn.BatchNorm2d, eps=1e-3)
            self.conv1 = nn.Conv2d(inplanes, planes, 3, padding=1)
            self.bn1 = norm_layer(planes)
            self.act1 = act_layer(inplace=True)
            self.bn2 = bn(planes * 2)
            self.conv3 = conv_layer(planes, out_chs=planes * 4)
            self.norm3 = get_norm(name="batch", channels=planes * 4)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            x = self.act1(self.bn1(self.conv1(x)))
            x = self.bn2(x)
            x = self.norm3(self.conv3(x))
            return self.pool(x)
"""


@pytest.mark.parametrize(
    "anchor, expected, rule",
    [
        ("bn1", "planes", "norm_layer defaults to nn.BatchNorm2d"),
        ("bn2", "planes * 2", "bn defaults to nn.BatchNorm2d"),
        ("conv3", "planes * 4", "conv_layer read by its argument names"),
        ("norm3", "planes * 4", "get_norm read by its argument names"),
        ("act1", "planes", "act1 keeps the width of bn1, which feeds it in forward"),
        ("pool", "planes * 4", "pool keeps the width of norm3, which feeds it in forward"),
    ],
)
def test_factories_resolve_to_their_default_or_by_argument_names(tmp_path, anchor, expected, rule):
    write_package(tmp_path, {"model.py": FACTORIES})
    shown, note = channels(tmp_path, "model.py", "Block", anchor)
    assert note.startswith(f"channels: {expected}, read from {anchor} = ")
    assert note.endswith(f"({rule})")
    if anchor not in ("act1", "pool"):
        assert shown == expected


BUILT = """
    from collections import OrderedDict

    from torch import nn


    class Unit(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            return self.conv(x)


    class Net(nn.Module):
        def __init__(self, c, d, n=2, deep=True):
            super().__init__()
            layers = [nn.Conv2d(c, d, 1)]
            for _ in range(n):
                layers.append(Unit(d))
            layers += [nn.BatchNorm2d(d * 2)]
            self.listed = nn.Sequential(*layers)
            self.stepped = nn.Sequential()
            self.stepped.add_module("conv", nn.Conv2d(d, d * 3, 1))
            self.stepped.add_module("act", nn.ReLU())
            self.named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(d, d * 4, 1)), ("act", nn.ReLU())]))
            self.repeated = nn.Sequential(*(Unit(d * 5) for _ in range(n)))
            blocks: OrderedDict[str, nn.Module] = OrderedDict()
            blocks["conv"] = nn.Conv2d(d, d * 7, 1)
            blocks["act"] = nn.ReLU()
            self.keyed = nn.Sequential(blocks)
            if deep:
                self.head = nn.Conv2d(d, d * 6, 3, padding=1)
            else:
                self.head = nn.Conv2d(d, d * 6, 1)

        def forward(self, x):
            x = self.listed(x)
            x = self.stepped(x)
            x = self.named(x)
            x = self.repeated(x)
            x = self.keyed(x)
            return self.head(x)
"""


@pytest.mark.parametrize(
    "anchor, expected",
    [
        ("listed", "d * 2"),
        ("stepped", "d * 3"),
        ("named", "d * 4"),
        ("repeated", "d * 5"),
        ("head", "d * 6"),
        ("keyed", "d * 7"),
    ],
)
def test_sequentials_built_in_steps_and_anchors_assigned_in_both_arms(tmp_path, anchor, expected):
    write_package(tmp_path, {"model.py": BUILT})
    shown, note = channels(tmp_path, "model.py", "Net", anchor)
    assert shown == expected and note.startswith(f"channels: {expected}, read from {anchor} = ")


def test_a_block_after_an_anchor_assigned_in_both_arms_follows_the_whole_if(tmp_path):
    write_package(tmp_path, {"model.py": BUILT})
    path = tmp_path / "model.py"
    wired = add(path.read_text(), GATE, BLOCKS, name="gate", class_name="Net", after="head", path=path).source
    assert "            self.head = nn.Conv2d(d, d * 6, 1)\n        self.gate = Gate(d * 6, reduction=2)\n" in wired
    assert "return self.gate(self.head(x))" in wired
    assert remove(wired, "gate").source == path.read_text()


OPAQUE_TAIL = """
    from torch import nn

    from .attention import Attention


    class Decoder(nn.Module):
        def __init__(self, in_channels, out_channels, kind=None):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
            self.attention = Attention(kind, in_channels=out_channels)
            self.mix = Attention(kind, in_channels=out_channels, out_channels=in_channels)

        def forward(self, x):
            x = self.conv(x)
            return self.attention(x)
"""


def test_a_layer_built_from_its_feeders_width_alone_is_read_as_keeping_it(tmp_path):
    write_package(tmp_path, {"model.py": OPAQUE_TAIL})
    path = tmp_path / "model.py"
    wired = add(path.read_text(), GATE, BLOCKS, name="gate", path=path)
    assert wired.messages[0].startswith("placed after conv in Decoder (default for insert blocks)")
    assert "x = self.gate(self.conv(x))\n        return self.attention(x)" in wired.source
    mixing = path.read_text().replace("return self.attention(x)", "return self.mix(x)")
    with pytest.raises(WireError, match="its main branch ends in self.mix = Attention"):
        add(mixing, GATE, BLOCKS, name="gate", path=path)


def test_an_activation_fed_by_something_other_than_a_layer_asks_for_channels(tmp_path):
    text = FACTORIES.replace("return self.pool(x)", "return self.pool(torch.cat([x, x], 1))")
    write_package(tmp_path, {"model.py": "import torch\n" + textwrap.dedent(text).lstrip()})
    path = tmp_path / "model.py"
    with pytest.raises(WireError, match=r"cannot infer the channels after pool \(pool = nn.MaxPool2d\(2\)\)"):
        add(path.read_text(), GATE, BLOCKS, name="gate", class_name="Block", after="pool", path=path)


def test_classes_whose_layers_live_in_a_base_class_say_where_to_wire(package):
    write_package(
        package,
        {
            "pkg/derived.py": """
                from torch import nn

                from .nn import Conv


                class Quantized(Conv):
                    def forward(self, x):
                        return self.bn(self.conv(x))


                class Pair(nn.Sequential):
                    def __init__(self, c):
                        super().__init__(nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1))
            """
        },
    )
    path = package / "pkg" / "derived.py"
    text = path.read_text()
    with pytest.raises(WireError) as inherited:
        add(text, GATE, BLOCKS, name="gate", class_name="Quantized", after="bn", path=path)
    assert "Quantized.__init__ does not assign self.bn: it is inherited from Conv" in str(inherited.value)
    assert "inherited from Conv (in " in str(inherited.value)  # the class that assigns it, and where
    assert "while Quantized.forward calls it, so neither class alone can take the block" in str(inherited.value)
    with pytest.raises(WireError, match=r"Pair has no forward method of its own \(it runs as nn.Sequential\)"):
        add(text, GATE, BLOCKS, name="gate", class_name="Pair", after="0", path=path)


GHOST = """
    import torch
    from torch import nn


    class Ghost(nn.Module):
        def __init__(self, in_chs, out_chs, ratio=2):
            super().__init__()
            self.out_chs = out_chs
            init_chs = -(-out_chs // ratio)
            self.primary = nn.Conv2d(in_chs, init_chs, 1)
            self.cheap = nn.Conv2d(init_chs, init_chs * (ratio - 1), 3, padding=1, groups=init_chs)

        def forward(self, x):
            x1 = self.primary(x)
            out = torch.cat([x1, self.cheap(x1)], dim=1)
            return out[:, : self.out_chs, :, :]


    class Block(nn.Module):
        def __init__(self, c, mid, out):
            super().__init__()
            self.ghost = Ghost(c, mid)
            self.proj = Ghost(mid, out)

        def forward(self, x):
            return self.proj(self.ghost(x))
"""


def test_a_forward_returning_its_first_n_channels_has_n(tmp_path):
    write_package(tmp_path, {"model.py": GHOST})
    shown, note = channels(tmp_path, "model.py", "Block", "proj")
    assert shown == "out" and note == "channels: out, read from proj = Ghost(mid, out)"
