"""The pretrained tag of AlexNet: torchvision's ImageNet file (its ``alexnet`` layout, the one
with weights), converted on its first pull by :mod:`cnn_zoo.convert.torchvision_alexnet`.

Every figure is the installed torchvision 0.29.1's: ``torchvision.models.AlexNet_Weights.
IMAGENET1K_V1`` (``.url``, ``.meta``, ``.transforms()``); tests/test_torchvision_tags.py
compares them. The paper's two-group layout (``alexnet_paper``) has no published weights.
"""

from cnn_zoo.models.publishers import torchvision_tag

DECLARED = {"created": "2026-12-06T13:30:00+00:00", "keras_version": "3.15.1"}  # when this block was written

TAGS = (
    torchvision_tag("alexnet.imagenet", "AlexNet_Weights.IMAGENET1K_V1", "alexnet-owt-7be5be79.pth",
                    acc=(56.522, 79.066), params=61_100_840, gflops=0.714, file_mb=233.087,
                    recipe="https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg",
                    docs="'These weights reproduce closely the results of the paper using a simplified "
                         "training recipe.'", **DECLARED),
)
