"""The pretrained tags of VGG: torchvision's ImageNet files of all eight configurations,
converted on their first pull by :mod:`cnn_zoo.convert.torchvision_vgg` (the convnet pattern
with torchvision's 7×7 adaptive pool before the FC layers).

Every figure is the installed torchvision 0.29.1's: ``torchvision.models.VGG{n}[_BN]_Weights.
IMAGENET1K_V1`` (``.url``, ``.meta``, ``.transforms()``); tests/test_torchvision_tags.py
compares them.
"""

from cnn_zoo.models.publishers import torchvision_tag

DECLARED = {"created": "2026-12-06T13:30:00+00:00", "keras_version": "3.15.1"}  # when these blocks were written
V1 = {"recipe": "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg",
      "docs": "'These weights were trained from scratch by using a simplified training recipe.'", **DECLARED}
# arch: (file, acc@1, acc@5, num_params, GFLOPS, MB)
PUBLISHED = {
    "vgg11": ("vgg11-8a719046.pth", 69.020, 88.628, 132_863_336, 7.609, 506.840),
    "vgg11_bn": ("vgg11_bn-6002323d.pth", 70.370, 89.810, 132_868_840, 7.609, 506.881),
    "vgg13": ("vgg13-19584684.pth", 69.928, 89.246, 133_047_848, 11.308, 507.545),
    "vgg13_bn": ("vgg13_bn-abd245e5.pth", 71.586, 90.374, 133_053_736, 11.308, 507.590),
    "vgg16": ("vgg16-397923af.pth", 71.592, 90.382, 138_357_544, 15.470, 527.796),
    "vgg16_bn": ("vgg16_bn-6c64b313.pth", 73.360, 91.516, 138_365_992, 15.470, 527.866),
    "vgg19": ("vgg19-dcbb9e9d.pth", 72.376, 90.876, 143_667_240, 19.632, 548.051),
    "vgg19_bn": ("vgg19_bn-c79401a0.pth", 74.218, 91.842, 143_678_248, 19.632, 548.143),
}

TAGS = tuple(
    torchvision_tag(f"{arch}.imagenet", f"{arch.upper()}_Weights.IMAGENET1K_V1", file, acc=(acc1, acc5),
                    params=params, gflops=gflops, file_mb=mb, **V1)
    for arch, (file, acc1, acc5, params, gflops, mb) in PUBLISHED.items())
