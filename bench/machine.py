"""What a benchmark names beside its figures: the CPU model, its vector flags and the cores it may use
(the library's own reading, :mod:`cnn_zoo.hardware`, which also picks ``mixed_precision: auto``)."""

from cnn_zoo.hardware import FLAGS, cores, cpu_flags, cpu_name  # noqa: F401

__all__ = ["FLAGS", "cores", "cpu_flags", "cpu_name"]
