"""GoogLeNet (Inception v1), Szegedy et al., "Going Deeper with Convolutions", 2014.

The network is Table 1 of the paper, one row per stage (below). Two layouts:

- ``googlenet``: the paper and its reference Caffe model (bvlc_googlenet):
  conv biases and ReLU after every conv, LRN after pool1 and after conv2,
  true 5×5 branches, 3×3/2 max-pools rounded up (Caffe's pools always use
  ceil, which gives 112 → 56 → 28 → 14 → 7 on a 224 input), 40% dropout.
  6,998,552 parameters with 1,000 classes.
- ``googlenet_bn``: laid out like torchvision's ``googlenet`` so its weights can
  be ported: batch norm after every conv (no conv bias), no LRN, a 3×3 kernel
  in the "5×5" branch, a 2×2/2 pool4, 20% dropout. 6,624,904 trainable
  parameters with 1,000 classes.

The paper's 7×7/1 average pool is global average pooling at 224×224; written
as global pooling, the net also runs on smaller inputs where every stage's
arithmetic allows it (32×32 does: 16, 8, 8, 4, 2, 1), and fails with the
arithmetic error where it does not.
"""

from __future__ import annotations

import keras

from cnn_zoo import layers
from cnn_zoo.errors import ArgumentError, ZooError
from cnn_zoo.family import Family, Published
from cnn_zoo.models import builder_parts

# Table 1, one row per stage: (name, kind, arguments). An inception row's
# arguments are its six widths: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5,
# pool proj. Output volumes on a 224×224×3 input are in the comments.
TABLE1 = (
    ("conv1", "conv", dict(filters=64, kernel_size=7, strides=2, padding=3)),   # (B, 112, 112, 64)
    ("pool1", "max_pool", dict(pool_size=3, strides=2)),                        # (B, 56, 56, 64)
    ("norm1", "lrn", {}),
    ("conv2_reduce", "conv", dict(filters=64, kernel_size=1)),                  # (B, 56, 56, 64)
    ("conv2", "conv", dict(filters=192, kernel_size=3, padding=1)),             # (B, 56, 56, 192)
    ("norm2", "lrn", {}),
    ("pool2", "max_pool", dict(pool_size=3, strides=2)),                        # (B, 28, 28, 192)
    ("inception_3a", "inception", (64, 96, 128, 16, 32, 32)),                   # (B, 28, 28, 256)
    ("inception_3b", "inception", (128, 128, 192, 32, 96, 64)),                 # (B, 28, 28, 480)
    ("pool3", "max_pool", dict(pool_size=3, strides=2)),                        # (B, 14, 14, 480)
    ("inception_4a", "inception", (192, 96, 208, 16, 48, 64)),                  # (B, 14, 14, 512)
    ("inception_4b", "inception", (160, 112, 224, 24, 64, 64)),                 # (B, 14, 14, 512)
    ("inception_4c", "inception", (128, 128, 256, 24, 64, 64)),                 # (B, 14, 14, 512)
    ("inception_4d", "inception", (112, 144, 288, 32, 64, 64)),                 # (B, 14, 14, 528)
    ("inception_4e", "inception", (256, 160, 320, 32, 128, 128)),               # (B, 14, 14, 832)
    ("pool4", "max_pool", dict(pool_size=3, strides=2)),                        # (B, 7, 7, 832)
    ("inception_5a", "inception", (256, 160, 320, 32, 128, 128)),               # (B, 7, 7, 832)
    ("inception_5b", "inception", (384, 192, 384, 48, 128, 128)),               # (B, 7, 7, 1024)
)
WIDTHS = ("n1x1", "n3x3_reduce", "n3x3", "n5x5_reduce", "n5x5", "pool_proj")

# The layouts, as differences from the table.
LAYOUTS = {
    "caffe": dict(batch_norm=False, lrn=True, branch5_kernel_size=5, dropout=0.4,
                  overrides={}),
    "torchvision": dict(batch_norm=True, lrn=False, branch5_kernel_size=3, dropout=0.2,
                        overrides={"pool4": dict(pool_size=2, strides=2)}),
}
# The auxiliary classifiers (paper, Sec. 5): after 4a and 4d, weighted 0.3 in
# the loss during training, dropped at inference.
AUX = dict(after=("inception_4a", "inception_4d"), pool_size=5, strides=3, filters=128,
           units=1024, dropout=0.7, loss_weight=0.3)
LRN = dict(size=5, alpha=1e-4, beta=0.75)  # Caffe's bvlc_googlenet
BN_EPSILON = 1e-3  # torchvision's BasicConv2d
# torchvision's transform_input: its GoogLeNet weights were ported from TensorFlow's
# Inception v1, which takes x/127.5 - 1, so the model itself turns ImageNet-normalised input
# ((x/255 - mean)/std) back into that: x*std/0.5 + (mean - 0.5)/0.5 per channel.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _conv(x, name, batch_norm, **kwargs):
    """Conv → ReLU (Caffe), or conv without bias → BN → ReLU (torchvision)."""
    if not batch_norm:
        return layers.Conv2D(**kwargs, activation="relu", name=name)(x)
    x = layers.Conv2D(**kwargs, use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _aux_head(x, name, num_classes, batch_norm, classifier_activation):
    """avg-pool 5×5/3 → 1×1 conv 128 → FC 1024 → dropout 70% → FC."""
    height = x.shape[1]
    # Checked here so a too-small map fails with the arithmetic, not in the backend.
    layers.output_size(height, AUX["pool_size"], AUX["strides"], layer=f"{name}_pool")
    x = keras.layers.AveragePooling2D(AUX["pool_size"], AUX["strides"], name=f"{name}_pool")(x)  # (B, 4, 4, D)
    x = _conv(x, f"{name}_conv", batch_norm, filters=AUX["filters"], kernel_size=1)           # (B, 4, 4, 128)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)                                      # (B, 2048)
    x = keras.layers.Dense(AUX["units"], activation="relu", name=f"{name}_fc")(x)              # (B, 1024)
    x = keras.layers.Dropout(AUX["dropout"], name=f"{name}_dropout")(x)
    x = keras.layers.Dense(num_classes, name=f"{name}_classifier")(x)
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32", name=name)(x)


def _transform_input(x):
    """torchvision's ``transform_input`` as a layer without weights (see IMAGENET_MEAN)."""
    return keras.layers.Rescaling(scale=[s / 0.5 for s in IMAGENET_STD],
                                  offset=[(m - 0.5) / 0.5 for m in IMAGENET_MEAN],
                                  name="transform_input")(x)


def build_googlenet(layout, *, input_shape=None, num_classes=1000, include_top=True, pooling=None,
                    classifier_activation="softmax", weights=None, aux_classifiers=False,
                    transform_input=False, name):
    builder_parts.check_signature(num_classes=num_classes, include_top=include_top, pooling=pooling,
                                  weights=weights, classifier_activation=classifier_activation)
    spec = LAYOUTS[layout]
    if aux_classifiers and not include_top:
        raise ZooError("`aux_classifiers=True` needs `include_top=True`. Received: include_top=False")
    inputs = builder_parts.model_input(input_shape, (224, 224, 3))
    x, aux = inputs, {}
    if transform_input:
        if inputs.shape[-1] != 3:
            raise ArgumentError("`transform_input=True` converts 3 ImageNet-normalised RGB channels. "
                             f"Received: input_shape={tuple(inputs.shape[1:])}")
        x = _transform_input(x)
    for row_name, kind, args in TABLE1:
        if kind == "conv":
            x = _conv(x, row_name, spec["batch_norm"], **args)
        elif kind == "max_pool":
            args = spec["overrides"].get(row_name, args)
            x = layers.MaxPool2D(**args, rounding="ceil", name=row_name)(x)
        elif kind == "lrn":
            if spec["lrn"]:
                x = layers.LocalResponseNormalization(**LRN, name=row_name)(x)
        else:  # inception
            x = layers.Inception(**dict(zip(WIDTHS, args)), batch_norm=spec["batch_norm"],
                                 branch5_kernel_size=spec["branch5_kernel_size"], name=row_name)(x)
            if aux_classifiers and row_name in AUX["after"]:
                head = f"aux{len(aux) + 1}"
                aux[head] = _aux_head(x, head, num_classes, spec["batch_norm"], classifier_activation)
    if not include_top:
        return builder_parts.finish(inputs, builder_parts.global_pool(x, pooling), name, weights)
    # The paper's 7×7/1 average pool, written as global pooling (the same at 224×224).
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)                            # (B, 1024)
    outputs = builder_parts.classifier(x, num_classes, classifier_activation, dropout=spec["dropout"])
    if aux:
        outputs = {"predictions": outputs, **aux}
    return builder_parts.finish(inputs, outputs, name, weights)


def googlenet(*, input_shape=None, num_classes=1000, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, aux_classifiers=False, name="googlenet"):
    """GoogLeNet as in the paper and its reference Caffe model (see the module docstring).

    ``aux_classifiers=True`` adds the two auxiliary heads after 4a and 4d: the
    model then outputs ``{"predictions", "aux1", "aux2"}``; its family gives the
    loss weights (``zoo.get_family("googlenet").loss_weights(model)``) and the
    model without them (``.inference_model(model)``).
    """
    return build_googlenet("caffe", input_shape=input_shape, num_classes=num_classes,
                           include_top=include_top, pooling=pooling,
                           classifier_activation=classifier_activation, weights=weights,
                           aux_classifiers=aux_classifiers, name=name)


def googlenet_bn(*, input_shape=None, num_classes=1000, include_top=True, pooling=None,
                 classifier_activation="softmax", weights=None, aux_classifiers=False,
                 transform_input=False, name="googlenet_bn"):
    """GoogLeNet with batch norm, laid out like torchvision's (see the module docstring).

    ``transform_input=True`` is torchvision's option of the same name (on for
    its ImageNet weights): the model takes ImageNet-normalised RGB,
    ``(x/255 - mean)/std``, and maps it to ``x/127.5 - 1`` itself;
    ``zoo.get_model("googlenet_bn", weights=TAG)`` takes it from the tag.
    """
    return build_googlenet("torchvision", input_shape=input_shape, num_classes=num_classes,
                           include_top=include_top, pooling=pooling,
                           classifier_activation=classifier_activation, weights=weights,
                           aux_classifiers=aux_classifiers, transform_input=transform_input,
                           name=name)


def _family(name, build, converters, published):
    # The aux heads' classifiers depend on num_classes too: fine-tuning rebuilds them with the main one.
    aux = {f"aux{i}": AUX["loss_weight"] for i in range(1, len(AUX["after"]) + 1)}
    return Family(name, build, head=("classifier", *(f"{head}_classifier" for head in aux)),
                  aux_outputs=aux, inference_kwargs={"aux_classifiers": False}, converters=converters,
                  published=published, test_kwargs={"input_shape": (32, 32, 3), "num_classes": 3})


FAMILIES = (_family("googlenet", googlenet, {"bvlc": "cnn_zoo.convert.bvlc_layout"},
                    Published(6_998_552, "Caffe's bvlc_googlenet (the paper's network with conv "
                              "biases, no auxiliary heads), counted layer by layer")),
            _family("googlenet_bn", googlenet_bn, {"torchvision": "cnn_zoo.convert.torchvision_layout"},
                    Published(6_624_904, "torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1"
                              ".meta['num_params']")))
