"""The built-in model families: their one registration, as plain data.

``FAMILIES`` maps each built-in model name to the module that defines its
:class:`cnn_zoo.family.Family` (in the module's own ``FAMILIES`` tuple) and a
one-line summary. Listing models reads only this table, so ``zoo list`` never
imports Keras; :func:`zoo.get_family` imports a module the first time one of
its families is asked for. A test checks that these modules define exactly these names.

A module's pretrained tags are declared beside it, in ``<module>_weights.py``
(:mod:`cnn_zoo.models.pretrained`): ``saved_models/manifest.json`` is generated from them.
"""

# name: (module, one-line summary)
FAMILIES = {
    "lenet5": (
        "cnn_zoo.models.lenet",
        "LeNet-5 as in LeCun et al. 1998: scaled tanh, trainable subsampling, "
        "C3 connection table, RBF output",
    ),
    "lenet5_modern": (
        "cnn_zoo.models.lenet",
        "LeNet-5 as commonly taught today: ReLU, max-pool, full C3, softmax head",
    ),
    "googlenet": (
        "cnn_zoo.models.googlenet",
        "GoogLeNet (Inception v1) as in Szegedy et al. 2014, Table 1, with LRN",
    ),
    "googlenet_bn": (
        "cnn_zoo.models.googlenet",
        "GoogLeNet with batch norm, laid out like torchvision's (3x3 in the '5x5' branch)",
    ),
    "convnet": (
        "cnn_zoo.models.convnet",
        "Parametric stack [(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K-SOFTMAX from a spec",
    ),
    **{f"resnet{depth}": (
        "cnn_zoo.models.resnet",
        f"ResNet-{depth} as in He et al. 2015, Table 1 ({kind} blocks); torchvision's layout "
        "(stride on the 3x3) or the paper's",
    ) for depth, kind in ((18, "basic"), (34, "basic"), (50, "bottleneck"), (101, "bottleneck"),
                          (152, "bottleneck"))},
    "resnet_cifar": (
        "cnn_zoo.models.resnet_cifar",
        "CIFAR ResNets of He et al. 2015, Sec. 4.2: depth 6n+2, 16/32/64 filters, "
        "zero-padding (option A) shortcuts",
    ),
    **{f"vgg{depth}{bn}": (
        "cnn_zoo.models.vgg",
        f"VGG-{depth} (Simonyan & Zisserman 2014, Table 1, {letter}) as the convnet pattern"
        + (", with batch norm" if bn else "") + ", laid out like torchvision's",
    ) for depth, letter in ((11, "A"), (13, "B"), (16, "D"), (19, "E")) for bn in ("", "_bn")},
    "alexnet": (
        "cnn_zoo.models.alexnet",
        "AlexNet laid out like torchvision's (64-192-384-256-256 filters, no LRN, one group)",
    ),
    "alexnet_paper": (
        "cnn_zoo.models.alexnet",
        "AlexNet as in Krizhevsky et al. 2012, Fig. 2: two groups (GPUs), LRN, 227x227 input",
    ),
    "allconv": (
        "cnn_zoo.models.allconv",
        "All-CNN-C (Springenberg et al. 2014, Table 2): only convolutions, strided convs for "
        "pooling, global average pooling for FC",
    ),
}
