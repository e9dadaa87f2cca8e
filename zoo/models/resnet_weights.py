"""The pretrained tags of ResNet: torchvision's ImageNet files, converted on their first pull
by :mod:`cnn_zoo.convert.torchvision_resnet` onto the torchvision layout (stride on the 3×3).

Every figure is the installed torchvision 0.29.1's: ``torchvision.models.ResNet{depth}_Weights``
(``.url``, ``.meta``, ``.transforms()``); tests/test_torchvision_tags.py compares them.
``resnet50.imagenet_v2`` is ``IMAGENET1K_V2`` (torchvision's newer recipe), whose evaluation
resizes the shorter side to 232, not 256.
"""

from cnn_zoo.models.publishers import torchvision_tag

DECLARED = {"created": "2026-12-06T13:30:00+00:00", "keras_version": "3.15.1"}  # when these blocks were written
V1 = {"recipe": "https://github.com/pytorch/vision/tree/main/references/classification#resnet",
      "docs": "'These weights reproduce closely the results of the paper using a simple training recipe.'",
      **DECLARED}

TAGS = (
    torchvision_tag("resnet18.imagenet", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth",
                    acc=(69.758, 89.078), params=11_689_512, gflops=1.814, file_mb=44.661, **V1),
    torchvision_tag("resnet34.imagenet", "ResNet34_Weights.IMAGENET1K_V1", "resnet34-b627a593.pth",
                    acc=(73.314, 91.420), params=21_797_672, gflops=3.664, file_mb=83.275, **V1),
    torchvision_tag("resnet50.imagenet", "ResNet50_Weights.IMAGENET1K_V1", "resnet50-0676ba61.pth",
                    acc=(76.130, 92.862), params=25_557_032, gflops=4.089, file_mb=97.781, **V1),
    torchvision_tag("resnet50.imagenet_v2", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth",
                    acc=(80.858, 95.434), params=25_557_032, gflops=4.089, file_mb=97.790, resize=232,
                    recipe="https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621",
                    docs="'These weights improve upon the results of the original paper by using "
                         "TorchVision's new training recipe'", **DECLARED),
    torchvision_tag("resnet101.imagenet", "ResNet101_Weights.IMAGENET1K_V1", "resnet101-63fe2227.pth",
                    acc=(77.374, 93.546), params=44_549_160, gflops=7.801, file_mb=170.511, **V1),
    torchvision_tag("resnet152.imagenet", "ResNet152_Weights.IMAGENET1K_V1", "resnet152-394f9c45.pth",
                    acc=(78.312, 94.046), params=60_192_808, gflops=11.514, file_mb=230.434, **V1),
)
