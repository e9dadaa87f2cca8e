"""Shared checks for every cnn-zoo layer, in the spirit of KerasHub's ``run_layer_test``.

``run_layer_test`` builds the layer on a tiny input and checks, in one go:
the output shape against ``compute_output_shape``, the ``get_config``
round-trip, a ``.keras`` save and reload with no ``custom_objects`` (the
layer must be registered), the reloaded model's outputs (allclose), the
number of trainable and non-trainable weights, and a forward pass under the
``mixed_bfloat16`` policy (the output dtype follows the policy and the
values stay close to float32's).
"""

from __future__ import annotations

import os

import keras
import numpy as np


def run_layer_test(layer_cls, init_kwargs, input_shape, *, expected_output_shape=None,
                   expected_trainable_weights=None, expected_non_trainable_weights=0,
                   expected_params=None, tmp_path=None, seed=0, input_data=None,
                   mixed_precision=True, atol=1e-5):
    """Run the standard checks; returns the (float32) output for further asserts."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape).astype("float32") if input_data is None else input_data

    layer = layer_cls(**init_kwargs)
    y = keras.ops.convert_to_numpy(layer(x))
    if expected_output_shape is not None:
        assert y.shape == tuple(expected_output_shape), (y.shape, expected_output_shape)
    assert tuple(layer.compute_output_shape(x.shape)) == y.shape
    if expected_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_trainable_weights
    assert len(layer.non_trainable_weights) == expected_non_trainable_weights
    if expected_params is not None:
        assert layer.count_params() == expected_params, (layer.count_params(), expected_params)

    # get_config round-trip: every constructor argument comes back.
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config

    # .keras save and reload without custom_objects.
    inputs = keras.Input(input_shape[1:], batch_size=input_shape[0])
    model = keras.Model(inputs, layer_cls(**init_kwargs)(inputs))
    expected = keras.ops.convert_to_numpy(model(x))
    if tmp_path is not None:
        path = os.path.join(tmp_path, f"{layer_cls.__name__}.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x)), expected, atol=atol)
        assert type(reloaded.layers[-1]) is layer_cls

    if mixed_precision:
        half = layer_cls(**init_kwargs, dtype="mixed_bfloat16")
        half.build(x.shape)
        # Same weights, so the outputs are comparable.
        if layer.weights:
            half.set_weights(layer.get_weights())
        y_half = half(x)
        assert keras.backend.standardize_dtype(y_half.dtype) == "bfloat16"
        for w in half.trainable_weights:
            assert keras.backend.standardize_dtype(w.dtype) == "float32"
        y_half = keras.ops.convert_to_numpy(keras.ops.cast(y_half, "float32"))
        scale = max(1.0, float(np.abs(y).max()))
        np.testing.assert_allclose(y_half, y, atol=0.05 * scale)
    return y


def run_model_saving_test(model, x, tmp_path, atol=1e-5):
    """Save ``model`` to .keras, reload without custom_objects, compare outputs."""
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = os.path.join(tmp_path, f"{model.name}.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x, training=False)), expected,
                               atol=atol)
    assert reloaded.count_params() == model.count_params()
    return reloaded
