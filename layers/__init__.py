"""Keras layers in the textbook's terms: K filters of extent F, stride S, padding P.

The arithmetic (``layers.output_size`` and friends) lives in
:mod:`layers.arithmetic`, which imports no Keras. The layer classes import
Keras; importing this package registers them for ``.keras`` serialization.
"""

from cnn_zoo.layers.arithmetic import (  # noqa: F401
    Arithmetic,
    ReceptiveField,
    ShapeError,
    conv_multiply_adds,
    conv_params,
    conv_weights,
    explain_window,
    output_size,
    receptive_fields,
    valid_kernel_sizes,
    valid_paddings,
    valid_strides,
)
from cnn_zoo.layers.conv import BaseConv, Conv1D, Conv2D, Conv3D  # noqa: F401,E402
from cnn_zoo.layers.pooling import BaseMaxPool, MaxPool1D, MaxPool2D, MaxPool3D  # noqa: F401,E402
from cnn_zoo.layers.inception import Inception  # noqa: F401,E402
from cnn_zoo.layers.lrn import LocalResponseNormalization  # noqa: F401,E402
from cnn_zoo.layers.subsampling import TrainableSubsampling  # noqa: F401,E402
from cnn_zoo.layers.connection_table import LENET5_C3_TABLE, ConnectionTableConv2D  # noqa: F401,E402
from cnn_zoo.layers.scaled_tanh import ScaledTanh, scaled_tanh  # noqa: F401,E402
from cnn_zoo.layers.rbf import EuclideanRBF, RandomSignCode  # noqa: F401,E402
