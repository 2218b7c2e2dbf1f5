"""Up- and downsampling blocks in place of the layers that resample real networks (issue 18).

Each case runs ``plugforge add --replace`` on a copy of the package as a user would,
then builds the package's own full model and runs it (eval forward, train forward
and backward, every wired block called). A downsampler replaces a strided conv or a
pool, an upsampler an ``nn.ConvTranspose2d``; where the source does not tell whether
a replaced layer's stride fits a fixed factor, the refusal names ``--build``.
"""

import pytest

from tests.realworld.cases import TV, ULTRA, Case, torchvision, yolo
from tests.realworld.harness import REFUSED, WIRED, explained, survey

pytestmark = pytest.mark.realworld

SEGMENT = yolo("yolov8n-seg.yaml", "SegmentationModel")

CASES = [
    # Proto: self.upsample = nn.ConvTranspose2d(c_, c_, 2, 2, 0, bias=True), the mask branch of YOLO segmentation
    *(Case("ultralytics", ULTRA + "block.py", "Proto", "upsample", SEGMENT, block=block, replace=True)
      for block in ("carafe", "dysample", "eucb")),
    # BasicBlock: self.conv1 = conv3x3(inplanes, planes, stride), stride 2 in the first block of a stage, 1 elsewhere
    Case("torchvision", TV + "resnet.py", "BasicBlock", "conv1", torchvision("resnet18"), block="spd_conv", replace=True,
         note="stride=stride maps onto SPD-Conv's stride: 2 where the stage downsamples, a plain conv elsewhere"),
]
REFUSED_CASES = [
    # HWD halves every map it gets; conv1's stride=stride is 2 in some blocks, 1 in others: the refusal names --build
    Case("torchvision", TV + "resnet.py", "BasicBlock", "conv1", torchvision("resnet18"), block="hwd", replace=True,
         expect=REFUSED),
    # an upsampler in place of a conv, a downsampler in place of an nn.ConvTranspose2d
    Case("torchvision", TV + "resnet.py", "BasicBlock", "conv2", torchvision("resnet18"), block="carafe", replace=True,
         expect=REFUSED),
    Case("ultralytics", ULTRA + "block.py", "Proto", "upsample", SEGMENT, block="spd_conv", replace=True, expect=REFUSED),
]


@pytest.mark.parametrize("case", CASES + REFUSED_CASES, ids=lambda case: case.id)
def test_resampler_replaces_a_real_layer(case, site, results):
    outcome = survey(case, site(case.package))
    results.append(outcome)
    expected = REFUSED if case.expect == REFUSED else WIRED
    assert outcome.status == expected, f"{outcome.status}, chose {outcome.wired or 'nothing'}:\n{outcome.detail}"
    if expected == REFUSED:
        assert explained(outcome), outcome.detail
        assert "--build" in outcome.detail or "--replace" in outcome.detail or "choose" in outcome.detail
