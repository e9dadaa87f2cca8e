"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", 2014 (ICLR 2015), Table 1, configurations A, B, D and E.

VGG is the lecture's pattern ``[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K-SOFTMAX``
made famous, so each VGG here *is* the ``convnet`` family's builder given a
spec in that notation (:data:`CONFIGS`) and the paper's numbers: every conv
F = 3, S = 1, P = 1, which keeps the map (W2 = (W − 3 + 2·1)/1 + 1 = W); every
POOL 2×2/2, which halves it (224 → 112 → 56 → 28 → 14 → 7); K = 64, 128,
256, 512, 512 per stage; two hidden FC layers of 4,096 units with dropout 0.5
("the first two fully-connected layers", Sec. 3.1), then the 1,000-way FC.

Laid out like torchvision's ``vgg*`` (whose weights are the ones published):
an adaptive average pool to 7×7 before the FC layers, so the FC weights fit
any input from 32×32 up (at 224×224 it changes nothing; at 32×32 it repeats
the 1×1 map 49 times), floor rounding as PyTorch, and for ``vgg*_bn`` batch
norm (ε = 1e-5) after each conv, whose bias torchvision keeps. Parameters
(torchvision's ``Weights.meta['num_params']``; the paper's Table 2 prints 133,
133, 138 and 144 million for A, B, D, E): :data:`PARAMS`.
"""

from __future__ import annotations

from cnn_zoo.family import Family, Published
from cnn_zoo.models import builder_parts
from cnn_zoo.models.convnet import build_convnet

# Table 1's configurations in the lecture's notation; the _bn variants write CONV-BN-RELU.
CONFIGS = {
    "vgg11": ("A", "[(CONV-RELU)*1-POOL]*2-[(CONV-RELU)*2-POOL]*3-(FC-RELU)*2-SOFTMAX"),
    "vgg13": ("B", "[(CONV-RELU)*2-POOL]*5-(FC-RELU)*2-SOFTMAX"),
    "vgg16": ("D", "[(CONV-RELU)*2-POOL]*2-[(CONV-RELU)*3-POOL]*3-(FC-RELU)*2-SOFTMAX"),
    "vgg19": ("E", "[(CONV-RELU)*2-POOL]*2-[(CONV-RELU)*4-POOL]*3-(FC-RELU)*2-SOFTMAX"),
}
WIDTHS = [64, 128, 256, 512, 512]  # K per stage (Table 1: conv3-64 ... conv3-512)
FC_UNITS = 4096
DROPOUT = 0.5
POOL_TO = (7, 7)  # torchvision's AdaptiveAvgPool2d((7, 7))
BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d's default
# torchvision.models.VGG*_Weights.IMAGENET1K_V1.meta["num_params"] (checked against the
# installed torchvision by tests/test_vgg.py); the paper's Table 2 in millions beside them.
PARAMS = {"vgg11": (132_863_336, 133), "vgg11_bn": (132_868_840, None),
          "vgg13": (133_047_848, 133), "vgg13_bn": (133_053_736, None),
          "vgg16": (138_357_544, 138), "vgg16_bn": (138_365_992, None),
          "vgg19": (143_667_240, 144), "vgg19_bn": (143_678_248, None)}


def spec(arch: str) -> str:
    """The lecture-notation spec of ``arch`` (``vgg16_bn``: CONV-BN-RELU in every group)."""
    text = CONFIGS[arch.removesuffix("_bn")][1]
    return text.replace("(CONV-RELU)", "(CONV-BN-RELU)") if arch.endswith("_bn") else text


def convnet_kwargs(arch: str, fc_units: int = FC_UNITS, adaptive_pool=POOL_TO) -> dict:
    """The ``convnet`` builder's arguments that make ``arch``: ``get_model("convnet",
    input_shape=(224, 224, 3), num_classes=1000, **convnet_kwargs("vgg16"))`` is VGG-16."""
    bn = arch.endswith("_bn")
    return dict(spec=spec(arch), filters=list(WIDTHS), kernel_size=3, strides=1, padding=1,
                pool_size=2, pool_strides=2, fc_units=fc_units, dropout=DROPOUT, stage_dropout=0.0,
                batch_norm=False, conv_bias=True if bn else None, bn_epsilon=BN_EPSILON,
                adaptive_pool=None if adaptive_pool is None else tuple(adaptive_pool),
                kernel_initializer=builder_parts.he_fan_out(), rounding="floor")


def _builder(arch: str):
    letter = CONFIGS[arch.removesuffix("_bn")][0]

    def build(*, input_shape=None, num_classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, fc_units=FC_UNITS,
              adaptive_pool=POOL_TO, name=arch):
        return build_convnet(input_shape=input_shape, default_shape=(224, 224, 3),
                             num_classes=num_classes, include_top=include_top, pooling=pooling,
                             classifier_activation=classifier_activation, weights=weights,
                             name=name, **convnet_kwargs(arch, fc_units, adaptive_pool))

    build.__name__ = build.__qualname__ = arch
    build.__doc__ = (
        f"VGG configuration {letter}{' with batch norm' if arch.endswith('_bn') else ''}: the "
        f"convnet spec {spec(arch)} (see the module docstring).\n\n"
        "``fc_units`` (4,096) is the width of the two hidden FC layers and ``adaptive_pool``\n"
        "((7, 7)) the grid before them (None: flatten the last pool as it is); other values\n"
        "give a VGG-like net that torchvision's weights do not fit.")
    return build


def notes(arch: str):
    def lines(kwargs) -> list[str]:
        letter = CONFIGS[arch.removesuffix("_bn")][0]
        params, millions = PARAMS[arch]
        pool = kwargs.get("adaptive_pool", POOL_TO)
        return [
            f"pattern: {spec(arch)}",
            f"  Simonyan & Zisserman 2014, Table 1, configuration {letter}: K = "
            f"{', '.join(map(str, WIDTHS))} per stage; every CONV F = 3, S = 1, P = 1 (keeps the map); "
            "every POOL 2×2/2 (halves it)",
            f"  FC-RELU: {kwargs.get('fc_units', FC_UNITS):,} units each, dropout {DROPOUT} after each"
            + ("" if pool is None else f"; torchvision's adaptive average pool to "
               f"{'×'.join(map(str, pool))} before them (any input ≥ 32×32 fits the FC weights)"),
            f"  parameters: {params:,} (torchvision {arch}"
            + (f"; the paper's Table 2: {millions} million)" if millions else ")"),
        ]
    return lines


def _family(arch: str) -> Family:
    return Family(arch, _builder(arch), notes=notes(arch),
                  published=Published(PARAMS[arch][0], f"torchvision.models.{arch.upper()}_Weights"
                                      ".IMAGENET1K_V1.meta['num_params']"),
                  converters={"torchvision": "cnn_zoo.convert.torchvision_vgg"},
                  test_kwargs={"input_shape": (32, 32, 3), "num_classes": 3, "fc_units": 64,
                               "adaptive_pool": (1, 1)})


FAMILIES = tuple(_family(arch) for arch in PARAMS)
