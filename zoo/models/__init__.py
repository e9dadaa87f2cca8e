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
}
