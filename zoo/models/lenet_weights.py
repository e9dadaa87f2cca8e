"""The pretrained tags of LeNet-5 (``lenet5``, ``lenet5_modern``): trained here, shipped in saved_models/.

Each was trained by ``zoo train`` with its recipe and published by ``zoo
publish``: the blocks below are those runs' records (the file's digest, the
test metrics, the preprocessing, the resolved recipe). A new one: publish the
run into a scratch folder, then ``python -m cnn_zoo.hub.shipped --declare
FOLDER TAG`` prints its block for this file (docs/architecture.md).
"""

from cnn_zoo.models.pretrained import ClassNames, Tag

LENET5_MNIST = Tag(
    "lenet5.mnist",
    kwargs={"input_shape": [32, 32, 1], "num_classes": 10},
    class_names=ClassNames("TFDS mnist's label names (the digits), as the run recorded them "
                           "(preprocessing.json)",
                           names=("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")),
    metrics={"split": "test", "examples": 10000, "accuracy": 0.991100013256073, "loss": 1.139938473701477,
             "measured_by": "cnn-zoo: the run's own evaluation after training, published by zoo publish",
             "source": "the run's metrics.json (test split of tfds:mnist, 10,000 images)"},
    preprocessing={"steps": [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}}],
                   "raw_shape": [28, 28, 1], "input_shape": [32, 32, 1]},
    recipe={"name": "lenet5-mnist",
            "description": "LeNet-5 (LeCun 1998) on MNIST, 32x32 padded input with LeNet's -0.1/1.175 "
                           "scaling; target >= 99.0% test accuracy",
            "version": 1,
            "dataset": {"source": "mnist", "validation_fraction": 0.1, "stratify": True,
                        "max_examples": None, "class_names": None, "image_size": None, "color_mode": "auto"},
            "preprocessing": [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}}],
            "model": {"name": "lenet5", "kwargs": {}},
            "optimizer": {"name": "adam", "learning_rate": 0.001, "kwargs": {}},
            "schedule": {"name": "cosine", "warmup_epochs": 0.0, "alpha": 0.01, "decay_epochs": 10.0,
                         "decay_rate": 0.1},
            "epochs": 20, "batch_size": 64, "seed": 0, "mixed_precision": "none", "jit_compile": False,
            "distribute": False, "steps_per_execution": 1,
            "callbacks": {"early_stopping": None, "reduce_lr_on_plateau": None}, "search_space": {},
            "tuning": {"tuner": "random", "objective": "val_accuracy", "direction": "auto",
                       "max_trials": 20, "executions_per_trial": 1, "keep_checkpoints": 3,
                       "max_consecutive_failed_trials": 3, "hyperband_factor": 3, "seed": None}},
    dataset="tfds:mnist", seed=0, created="2026-11-25T02:07:31+00:00",
    keras_version="3.15.1", backend="tensorflow",
    sha256="dfc40d362448b15449222cce0f121171784056b86496f01c44d98e934036ca5a", size=277384,
)


LENET5_FASHION_MNIST = Tag(
    "lenet5.fashion_mnist",
    kwargs={"input_shape": [32, 32, 1], "num_classes": 10},
    class_names=ClassNames("TFDS fashion_mnist's label names, as the run recorded them (preprocessing.json)",
                           names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                  "Sneaker", "Bag", "Ankle boot")),
    metrics={"split": "test", "examples": 10000, "accuracy": 0.9018999934196472, "loss": 9.855539321899414,
             "measured_by": "cnn-zoo: the run's own evaluation after training, published by zoo publish",
             "source": "the run's metrics.json (test split of tfds:fashion_mnist, 10,000 images)"},
    preprocessing={"steps": [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}},
                             {"random_flip": {"mode": "horizontal"}}],
                   "raw_shape": [28, 28, 1], "input_shape": [32, 32, 1]},
    recipe={"name": "lenet5-fashion_mnist",
            "description": "LeNet-5 on Fashion-MNIST, 32x32 padded input, LeNet scaling, horizontal flips; "
                           "target >= 90% test accuracy",
            "version": 1,
            "dataset": {"source": "fashion_mnist", "validation_fraction": 0.1, "stratify": True,
                        "max_examples": None, "class_names": None, "image_size": None, "color_mode": "auto"},
            "preprocessing": [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}},
                              {"random_flip": {"mode": "horizontal"}}],
            "model": {"name": "lenet5", "kwargs": {}},
            "optimizer": {"name": "adam", "learning_rate": 0.001, "kwargs": {}},
            "schedule": {"name": "cosine", "warmup_epochs": 0.0, "alpha": 0.01, "decay_epochs": 10.0,
                         "decay_rate": 0.1},
            "epochs": 25, "batch_size": 64, "seed": 0, "mixed_precision": "none", "jit_compile": False,
            "distribute": False, "steps_per_execution": 1,
            "callbacks": {"early_stopping": None, "reduce_lr_on_plateau": None}, "search_space": {},
            "tuning": {"tuner": "random", "objective": "val_accuracy", "direction": "auto",
                       "max_trials": 20, "executions_per_trial": 1, "keep_checkpoints": 3,
                       "max_consecutive_failed_trials": 3, "hyperband_factor": 3, "seed": None}},
    dataset="tfds:fashion_mnist", seed=0, created="2026-11-25T02:27:17+00:00",
    keras_version="3.15.1", backend="tensorflow",
    sha256="8c0b15b7befb1ce76df90ea4346a65de6e171e46329cdeba4d6618b1b6bef8a1", size=277384,
)


LENET5_MODERN_MNIST = Tag(
    "lenet5_modern.mnist",
    kwargs={"input_shape": [32, 32, 1], "num_classes": 10},
    class_names=ClassNames("TFDS mnist's label names (the digits), as the run recorded them "
                           "(preprocessing.json)",
                           names=("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")),
    metrics={"split": "test", "examples": 10000, "accuracy": 0.9923999905586243,
             "loss": 0.024430319666862488,
             "measured_by": "cnn-zoo: the run's own evaluation after training, published by zoo publish",
             "source": "the run's metrics.json (test split of tfds:mnist, 10,000 images)"},
    preprocessing={"steps": [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}},
                             {"random_shift": {"max": 2, "fill": "edge", "value": 0.0}}],
                   "raw_shape": [28, 28, 1], "input_shape": [32, 32, 1]},
    recipe={"name": "lenet5_modern-mnist",
            "description": "lenet5_modern (ReLU, max-pool, full C3, softmax head) on MNIST with +-2 px "
                           "shifts; target >= 99.2% test accuracy",
            "version": 1,
            "dataset": {"source": "mnist", "validation_fraction": 0.1, "stratify": True,
                        "max_examples": None, "class_names": None, "image_size": None, "color_mode": "auto"},
            "preprocessing": [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}},
                              {"random_shift": {"max": 2, "fill": "edge", "value": 0.0}}],
            "model": {"name": "lenet5_modern", "kwargs": {}},
            "optimizer": {"name": "adam", "learning_rate": 0.001, "kwargs": {}},
            "schedule": {"name": "cosine", "warmup_epochs": 1.0, "alpha": 0.01, "decay_epochs": 10.0,
                         "decay_rate": 0.1},
            "epochs": 20, "batch_size": 128, "seed": 0, "mixed_precision": "none", "jit_compile": False,
            "distribute": False, "steps_per_execution": 1,
            "callbacks": {"early_stopping": None, "reduce_lr_on_plateau": None}, "search_space": {},
            "tuning": {"tuner": "random", "objective": "val_accuracy", "direction": "auto",
                       "max_trials": 20, "executions_per_trial": 1, "keep_checkpoints": 3,
                       "max_consecutive_failed_trials": 3, "hyperband_factor": 3, "seed": None}},
    dataset="tfds:mnist", seed=0, created="2026-11-25T02:14:56+00:00",
    keras_version="3.15.1", backend="tensorflow",
    sha256="58f05a2227055196d035b7b5ab3102b7bf8d52144f5e5fed365112424bd3842c", size=277488,
)


TAGS = (LENET5_MNIST, LENET5_FASHION_MNIST, LENET5_MODERN_MNIST)
