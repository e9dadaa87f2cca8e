"""A convolution whose input maps feed only some output maps (LeNet-5's C3).

A fixed boolean table says which input map d feeds which output map k
(rows: input maps, columns: output maps). Output map k is the sum of F×F
cross-correlations over its connected input maps only, plus its bias.

Only the connected filters are weights: the variable ``kernel`` holds them
packed, shape (F, F, connections), and every call scatters them into the
dense (F, F, D1, K) kernel of an ordinary convolution, with constant zeros
for the missing connections (one gather with a constant index). So the layer
lowers to the backend's native conv, unconnected weights neither exist nor
get gradients, and ``count_params`` is the paper's: C3 with Table I has
60 connections × 25 + 16 biases = 1,516 parameters (a masked dense kernel
would have 2,416 variables).
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from cnn_zoo.layers.conv import Conv2D

_SERIALIZE = keras.saving.register_keras_serializable(package="cnn_zoo")

# LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document
# recognition", Proc. IEEE 86(11), 1998, Table I: which S2 maps (rows 0-5)
# each C3 map (columns 0-15) combines. Maps 0-5 take contiguous triples,
# 6-11 contiguous quadruples, 12-14 discontinuous quadruples, 15 all six.
LENET5_C3_TABLE = (
    (1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1),
    (1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1),
    (1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1),
    (0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1),
    (0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1),
    (0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1),
)


def normalize_connections(connections) -> tuple[tuple[int, ...], ...]:
    """A rectangular table of 0/1 (nested lists, tuples or an array) as a tuple of tuples."""
    def bad(why):
        return ValueError(
            f"`connections` must be a table of 0/1 with one row per input map and one column "
            f"per output map; {why}. Received: connections={connections!r}"
        )

    try:
        table = np.asarray(connections)
    except ValueError:  # ragged rows
        raise bad("its rows differ in length") from None
    if table.ndim != 2 or 0 in table.shape:
        raise bad(f"got {table.ndim} dimension(s) of shape {table.shape}")
    if table.dtype == object or not np.isin(table, (0, 1)).all():
        raise bad("it holds values other than 0 and 1")
    empty = [int(k) for k in np.flatnonzero(table.sum(axis=0) == 0)]
    if empty:
        raise bad(f"output map(s) {empty} have no input map")
    return tuple(tuple(int(v) for v in row) for row in table)


@_SERIALIZE
class ConnectionTableConv2D(Conv2D):
    """2D convolution with a fixed input-map → output-map connection table.

    Args:
        filters: K, the number of output maps; must equal the table's columns.
        kernel_size: F.
        connections: the table, D1 rows (input maps) × K columns (output
            maps) of 0/1, e.g. :data:`LENET5_C3_TABLE`.
        strides, padding, rounding, activation, use_bias, ...: as in
            :class:`layers.Conv2D`.

    Weights: ``kernel`` (F, F, connections), the filters of the connected
    pairs in column order (output map 0's input maps first, in increasing
    order, then output map 1's, ...), and ``bias`` (K,).
    """

    def __init__(self, filters, kernel_size, connections, strides=1, padding=0, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, **kwargs)
        self.connections = normalize_connections(connections)
        columns = len(self.connections[0])
        if columns != self.filters:
            raise ValueError(
                f"`connections` must have one column per output map: {columns} columns for "
                f"filters={self.filters}. Received: connections with {columns} columns"
            )
        table = np.array(self.connections, dtype=bool)  # (D1, K)
        # Connection i = (d, k), ordered by output map k, then input map d.
        ks, ds = np.nonzero(table.T)
        self.num_connections = len(ks)
        self._flat_positions = ds * self.filters + ks  # where connection i sits in a (D1·K) row
        # For each of the D1·K dense slots, its packed index, or the zero slot (index n).
        index = np.full(table.size, self.num_connections, dtype="int32")
        index[self._flat_positions] = np.arange(self.num_connections, dtype="int32")
        self._gather_index = index

    def build(self, input_shape):
        _, channels = self._split(input_shape)
        if channels != len(self.connections):
            raise ValueError(
                f"{self.name}: `connections` has {len(self.connections)} rows (input maps) but "
                f"the input has D1={channels} maps. Received: input_shape={tuple(input_shape)}"
            )
        super().build(input_shape)

    def kernel_variable(self, channels):
        # Only the connected filters are variables: (F, F, connections).
        dense_shape = (*self.kernel_size, channels, self.filters)

        def initializer(shape, dtype=None):
            # Draw the dense kernel (so fan-in/fan-out scaling is the conv's)
            # and keep the connected filters.
            dense = self.kernel_initializer(dense_shape, dtype=dtype)
            dense = ops.reshape(dense, (*self.kernel_size, channels * self.filters))
            return ops.take(dense, self._flat_positions, axis=-1)

        return (*self.kernel_size, self.num_connections), initializer

    def dense_kernel(self, kernel=None):
        """The (F, F, D1, K) kernel: the packed filters, zeros where the table has 0."""
        kernel = self.kernel if kernel is None else kernel
        zero = ops.zeros_like(kernel[..., :1])
        padded = ops.concatenate([kernel, zero], axis=-1)  # (F, F, n + 1)
        dense = ops.take(padded, self._gather_index, axis=-1)  # (F, F, D1·K)
        return ops.reshape(dense, (*self.kernel_size, len(self.connections), self.filters))

    def convolve(self, inputs, kernel):
        # BaseConv.call hands over the packed kernel; convolve with the dense one.
        return super().convolve(inputs, self.dense_kernel(kernel))

    def explain(self, input_shape=None):
        arithmetic = super().explain(input_shape)
        depth = arithmetic.input_shape[-1]
        if depth != len(self.connections):
            raise ValueError(
                f"{self.name}: `connections` has {len(self.connections)} rows (input maps) but "
                f"the input has D1={depth} maps. Received: input_shape={arithmetic.input_shape}"
            )
        area = math.prod(self.kernel_size)
        weights = self.num_connections * area
        f = "·".join(map(str, self.kernel_size))
        full = depth * self.filters * area
        return dataclasses.replace(
            arithmetic, kind="connection_table_conv", weights=weights,
            multiply_adds=math.prod(arithmetic.output_shape[:-1]) * weights,
            formulas=arithmetic.formulas + (
                f"{self.num_connections} connections × {f} = {weights:,} weights "
                f"(a full table would have {depth}·{self.filters}·{f} = {full:,})",
            ),
        )

    def get_config(self):
        config = super().get_config()
        config["connections"] = [list(row) for row in self.connections]
        return config
