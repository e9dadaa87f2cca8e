"""The weights store: where a pretrained tag's file comes from, and how it is trusted.

    from cnn_zoo.weights import store
    store.info("lenet5.mnist")     # the manifest entry (a WeightsInfo)
    store.pull("lenet5.mnist")     # the verified .weights.h5 file (cache → saved_models/ → ZOO_HUB_URL)

A leaf of the standard library, one concept per module:

- ``manifest``: the manifest format (``WeightsInfo``), tags, hashes, dataset licences;
- ``store``: the sources (cache, saved_models/, ZOO_HUB_URL), ``info``, ``pull``, offline mode;
- ``fetch``: verified, atomic downloads with a progress bar (urllib);
- ``lock``: the inter-process file lock;
- ``errors``: ``HubError`` and its kinds.

It imports nothing of the zoo above it: no Keras, no model, no training. A tag
whose entry names a publisher's file (``source``) is converted on its first
pull by :func:`cnn_zoo.convert.pulling.pull`, one floor up; the users' ``pull``
(``cnn_zoo.pull``, ``zoo pull``) is that one.
"""
