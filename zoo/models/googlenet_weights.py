"""The pretrained tags of GoogLeNet: two converted from their publishers' ImageNet files, one trained here.

- ``googlenet.imagenet``: BVLC's Caffe GoogLeNet (the paper's layout), as the
  ONNX model zoo serves it, converted by :mod:`cnn_zoo.convert.bvlc_layout`;
- ``googlenet_bn.imagenet``: torchvision's ``GoogLeNet_Weights.IMAGENET1K_V1``,
  converted by :mod:`cnn_zoo.convert.torchvision_layout`;
- ``googlenet.fashion_mnist``: trained by ``zoo train`` and published by ``zoo publish``.

The converted tags are downloaded, checked and converted on their first pull;
their figures are the publishers', quoted with where they are written.
"""

from cnn_zoo.models.pretrained import ClassNames, Tag
from cnn_zoo.models.publishers import (IMAGENET, IMAGENET_CLASSES, converted_recipe, torchvision_file,
                                       torchvision_metrics, torchvision_preprocessing)

DECLARED = {"created": "2026-12-02T11:37:39+00:00", "keras_version": "3.15.1"}  # when these blocks were written

TORCHVISION_PAGE = "https://pytorch.org/vision/stable/models/generated/torchvision.models.googlenet.html"
_TV_KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000, "transform_input": True}
_TV_PREPROCESSING = torchvision_preprocessing(
    resize=256, crop=224, transform_input="inside the model (googlenet_bn(transform_input=True))")
GOOGLENET_BN_IMAGENET = Tag(
    "googlenet_bn.imagenet", kwargs=_TV_KWARGS, class_names=IMAGENET_CLASSES, dataset=IMAGENET,
    source=torchvision_file(
        "googlenet-1378be20.pth", page=TORCHVISION_PAGE,
        weights="torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1 ('ported from the original paper': "
                "TensorFlow's Inception v1, hence transform_input)"),
    metrics=torchvision_metrics("GoogLeNet_Weights.IMAGENET1K_V1", 69.778, 89.530, page=TORCHVISION_PAGE),
    preprocessing=_TV_PREPROCESSING,
    recipe=converted_recipe("googlenet_bn.imagenet", _TV_KWARGS, _TV_PREPROCESSING), **DECLARED)

ONNX_FOLDER = "validated/vision/classification/inception_and_googlenet/googlenet"
ONNX_COMMIT = "4c46cd00fbdb7cd30b6c1c17ab54f2e1f4f7b177"  # onnx/models, where the LFS pointer was read
_BVLC_KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000}
_BVLC_PREPROCESSING = {
    "steps": [{"center_crop": {"size": [224, 224]}}, {"channel_order": {"order": "bgr"}},
              {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}],
    "raw_shape": [256, 256, 3], "input_shape": [224, 224, 3],
    "publisher": {"resize": [256, 256], "resize_mode": "whole image (Caffe's ImageNet LMDB)",
                  "center_crop": 224, "channel_order": "BGR", "scale": "0..255",
                  "mean": {"B": 104, "G": 117, "R": 123}},
    "note": "BVLC's centre-crop figures were measured as Caffe prepares ImageNet: every image resized "
            "to 256x256 whole (BVLC/caffe examples/imagenet/readme.md: convert -resize 256x256\\!, the "
            "aspect ratio not kept), then the centre 224x224; kept so (the ONNX zoo's README sample "
            "instead resizes to 224x224 whole, without a crop)",
}
GOOGLENET_IMAGENET = Tag(
    "googlenet.imagenet", kwargs=_BVLC_KWARGS, class_names=IMAGENET_CLASSES, dataset=IMAGENET,
    source={
        "format": "bvlc", "publisher": "BVLC (Caffe bvlc_googlenet), via the ONNX model zoo",
        "weights": "Caffe BVLC GoogLeNet ==> Caffe2 GoogLeNet ==> ONNX GoogLeNet (opset 7)",
        "url": f"https://github.com/onnx/models/raw/{ONNX_COMMIT}/{ONNX_FOLDER}/model/googlenet-7.onnx",
        "file": "googlenet-7.onnx", "size": 28020232,
        "sha256": "5725ccfd90845735ce5897faf7843c3f9b13acda3c4f3bff82cb21c9337c9de8",
        "check": f"full sha256 and size, from the Git LFS pointer of {ONNX_FOLDER}/model/"
                 f"googlenet-7.onnx in onnx/models at {ONNX_COMMIT}",
        "license": "BVLC: 'released for unrestricted use' (models/bvlc_googlenet/readme.md); "
                   "onnx/models: BSD-3-Clause; trained on ImageNet, whose terms apply",
        "page": f"https://github.com/onnx/models/tree/main/{ONNX_FOLDER}",
    },
    metrics={"split": "validation", "examples": 50000, "accuracy": 0.687, "top5_accuracy": 0.889,
             "measured_by": "BVLC (the publisher), centre crop only, not cnn-zoo",
             "source": "bvlc_googlenet readme, quoted in the ONNX model zoo's googlenet README: "
                       "'top-1 accuracy 68.7% (31.3% error) and a top-5 accuracy 88.9% (11.1% error) "
                       "on the validation set, using just the center crop'"},
    preprocessing=_BVLC_PREPROCESSING,
    recipe=converted_recipe("googlenet.imagenet", _BVLC_KWARGS, _BVLC_PREPROCESSING), **DECLARED)

GOOGLENET_FASHION_MNIST = Tag(
    "googlenet.fashion_mnist",
    kwargs={"input_shape": [32, 32, 1], "num_classes": 10},
    class_names=ClassNames("TFDS fashion_mnist's label names, as the run recorded them (preprocessing.json)",
                           names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                  "Sneaker", "Bag", "Ankle boot")),
    metrics={"split": "test", "examples": 10000, "accuracy": 0.916700005531311, "loss": 0.23103754222393036,
             "measured_by": "cnn-zoo: the run's own evaluation after training, published by zoo publish",
             "source": "the run's metrics.json (test split of tfds:fashion_mnist, 10,000 images)"},
    preprocessing={"steps": [{"pad": {"width": [2, 2], "value": 0.0}},
                             {"rescale": {"scale": 0.00392156862745098, "offset": 0.0}},
                             {"normalize": {"mean": 0.286, "std": 0.353}},
                             {"random_flip": {"mode": "horizontal"}},
                             {"random_crop": {"size": [32, 32], "padding": 2, "fill": "edge", "value": 0.0}}],
                   "raw_shape": [28, 28, 1], "input_shape": [32, 32, 1]},
    recipe={"name": "googlenet-fashion_mnist",
            "description": "GoogLeNet on Fashion-MNIST at 32x32x1 (CPU-sized), flips and random crops; "
                           "target >= 91% test accuracy",
            "version": 1,
            "dataset": {"source": "fashion_mnist", "validation_fraction": 0.1, "stratify": True,
                        "max_examples": None, "class_names": None, "image_size": None, "color_mode": "auto"},
            "preprocessing": [{"pad": {"width": [2, 2], "value": 0.0}},
                              {"rescale": {"scale": 0.00392156862745098, "offset": 0.0}},
                              {"normalize": {"mean": 0.286, "std": 0.353}},
                              {"random_flip": {"mode": "horizontal"}},
                              {"random_crop": {"size": [32, 32], "padding": 2, "fill": "edge", "value": 0.0}}],
            "model": {"name": "googlenet", "kwargs": {}},
            "optimizer": {"name": "adam", "learning_rate": 0.001, "kwargs": {}},
            "schedule": {"name": "cosine", "warmup_epochs": 1.0, "alpha": 0.01, "decay_epochs": 10.0,
                         "decay_rate": 0.1},
            "epochs": 15, "batch_size": 128, "seed": 0, "mixed_precision": "none", "jit_compile": "auto",
            "distribute": False, "steps_per_execution": 1,
            "callbacks": {"early_stopping": {"monitor": "val_loss", "patience": 5, "min_delta": 0.0,
                                             "mode": "auto", "restore_best_weights": True},
                          "reduce_lr_on_plateau": None},
            "search_space": {},
            "tuning": {"tuner": "random", "objective": "val_accuracy", "direction": "auto",
                       "max_trials": 20, "executions_per_trial": 1, "keep_checkpoints": 3,
                       "max_consecutive_failed_trials": 3, "hyperband_factor": 3, "seed": None}},
    dataset="tfds:fashion_mnist", seed=0, created="2026-11-25T03:12:22+00:00",
    keras_version="3.15.1", backend="tensorflow",
    sha256="64d31413281f0302dfd85776b228e6b659040221eaa32720728379c9eeb3a6de", size=24138944,
)


TAGS = (GOOGLENET_IMAGENET, GOOGLENET_BN_IMAGENET, GOOGLENET_FASHION_MNIST)
