"""The one place layers/ reads a private Keras attribute: the shape a layer was built with.

Keras 3 records it in ``Layer._build_shapes_dict`` ({argument name: shape}, batch axis
first) and offers no public getter. tests/test_private_hooks.py pins this contract.
"""


def built_input_shape(layer):
    """The shape (with the batch axis) ``layer`` was built with, or None if it is not built."""
    shapes = getattr(layer, "_build_shapes_dict", None)
    if not layer.built or not shapes:
        return None
    return tuple(next(iter(shapes.values())))
