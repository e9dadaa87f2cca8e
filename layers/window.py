"""What convolution and pooling share: a window of extent F slid with stride S.

``WindowLayer`` holds the arguments both take (size, strides, padding P,
rounding, data format), checks them once, runs the arithmetic for
``compute_output_shape`` and ``explain``, and lowers the op to the backend's
native kernel (see :func:`layers.window_plan.window_plan`).
"""

from __future__ import annotations

import keras
from keras import ops

from cnn_zoo.layers import arithmetic as ar
from cnn_zoo.layers.keras_private import built_input_shape
from cnn_zoo.layers.window_plan import window_plan

DATA_FORMATS = ("channels_last", "channels_first")


def normalize_data_format(data_format):
    # Read the global default only here, at construction, as Keras does.
    data_format = data_format or keras.config.image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"`data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


class WindowLayer(keras.layers.Layer):
    """Base of the conv and pool layers; ``rank`` is 1, 2 or 3 spatial axes."""

    def __init__(self, rank, window, strides, padding=0, rounding="floor", dilation_rate=1,
                 data_format=None, window_name="kernel_size", **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.window = ar.normalize_tuple(window, rank, window_name)
        self.strides = ar.normalize_tuple(strides, rank, "strides")
        self.padding = ar.normalize_padding(padding, rank)
        self.rounding = ar.normalize_rounding(rounding)
        self.dilation_rate = ar.normalize_tuple(dilation_rate, rank, "dilation_rate")
        self.data_format = normalize_data_format(data_format)
        self._window_name = window_name

    # -- shapes -------------------------------------------------------------

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _split(self, shape):
        """(spatial sizes, channels) of a full input shape, batch axis included."""
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"{self.name}: expected a {self.rank + 2}D input (batch, {self.rank} spatial "
                f"axes, channels). Received: input_shape={shape}"
            )
        if self.data_format == "channels_last":
            return shape[1:-1], shape[-1]
        return shape[2:], shape[1]

    def _join(self, batch, spatial, channels):
        if self.data_format == "channels_last":
            return (batch, *spatial, channels)
        return (batch, channels, *spatial)

    def output_channels(self, in_channels):
        return in_channels

    def compute_output_shape(self, input_shape):
        spatial, channels = self._split(input_shape)
        out = ar.output_shape(spatial, self.window, self.strides, self.padding, self.rounding,
                              dilation=self.dilation_rate, layer=self.name)
        return self._join(input_shape[0], out, self.output_channels(channels))

    def build(self, input_shape):
        # Fails here, with the arithmetic, rather than deep inside the backend.
        self.compute_output_shape(input_shape)

    # -- running ------------------------------------------------------------

    def plan(self, spatial):
        return window_plan(spatial, self.window, self.strides, self.padding, self.rounding,
                              self.dilation_rate, layer=self.name)

    def native_padding(self, spatial):
        """(pads, native) for inputs of ``spatial`` sizes: the cells to add before and after each
        spatial axis, then the backend's own padding word ("valid" or "same") to run the op with."""
        none = ((0, 0),) * self.rank
        if any(s is None for s in spatial):
            # Unknown sizes (e.g. TensorFlow retracing with relaxed shapes):
            # with floor rounding, padding all of P and running "valid" gives
            # the same windows; only ceil and exact need the sizes.
            if self.padding == "same":
                return none, "same"
            if self.rounding != "floor":
                raise ValueError(
                    f"{self.name}: padding={ar.padding_to_config(self.padding)!r} with "
                    f"rounding={self.rounding!r} needs known spatial sizes. "
                    f"Received: spatial sizes {tuple(spatial)}"
                )
            return tuple(self.padding), "valid"
        plan = self.plan(spatial)
        return (none, "same") if plan.native == "same" else (tuple(plan.pads), "valid")

    def pad_for(self, inputs, pad_value=0.0):
        """Inputs padded as the plan says, and the native padding word to use."""
        spatial, _ = self._split(inputs.shape)
        pads, native = self.native_padding(spatial)
        if all(p == (0, 0) for p in pads):
            return inputs, native
        widths = [(0, 0), *pads, (0, 0)] if self.data_format == "channels_last" \
            else [(0, 0), (0, 0), *pads]
        return ops.pad(inputs, widths, constant_values=pad_value), native

    # -- explaining ---------------------------------------------------------

    def _explain_input(self, input_shape):
        """Channels-last volume without the batch axis, from the argument or the build."""
        if input_shape is None:
            input_shape = built_input_shape(self)
            if input_shape is None:
                raise ar.ShapeError(
                    f"{self.name}: explain() needs input_shape=(W, H, D) for a layer "
                    "that has not been built", layer=self.name
                )
            spatial, channels = self._split(input_shape)
            return (*spatial, channels)
        return tuple(input_shape)

    def explain(self, input_shape=None) -> ar.Arithmetic:
        """The layer's arithmetic as data; ``str()`` of it reads as a worked example.

        ``input_shape`` is channels-last without the batch axis, e.g.
        ``(32, 32, 3)``; by default the shape the layer was built with.
        """
        raise NotImplementedError

    def _window_config(self):
        return {
            self._window_name: self.window,
            "strides": self.strides,
            "padding": ar.padding_to_config(self.padding),
            "rounding": self.rounding,
            "data_format": self.data_format,
        }
