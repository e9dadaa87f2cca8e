#!/usr/bin/env bash
# The test command of the README: the full suite on TensorFlow, the layer tests on JAX.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_ENABLE_ONEDNN_OPTS=1 TF_CPP_MIN_LOG_LEVEL=2
# --durations: the slowest tests, so that CI time (docs/benchmarks.md "CI") can be kept down.
# -n: test processes (pytest-xdist); ZOO_TEST_WORKERS=0 runs them in this one. --dist loadgroup:
# the tests of one xdist_group (one set of stand-in files) run on one worker, which makes them once.
python -m pytest -q -n "${ZOO_TEST_WORKERS:-2}" --dist loadgroup --durations=15 "$@"
KERAS_BACKEND=jax python -m pytest -q -m "not slow" tests/test_arithmetic.py tests/test_conv.py \
    tests/test_pooling.py tests/test_inception.py tests/test_lrn.py tests/test_lenet_layers.py \
    tests/test_lineage_layers.py "$@"
