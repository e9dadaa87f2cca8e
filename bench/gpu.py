"""GPU training speed: cnn-zoo (Keras on JAX) against the same network in plain PyTorch.

One run measures, on the device it finds:

1. the bf16 matrix-multiply peak (an 8192² matmul, best of several);
2. a training step of ``googlenet_bn`` (224×224×3, 1,000 classes, batch 256,
   bf16) in cnn-zoo (``KERAS_BACKEND=jax``, mixed_bfloat16, XLA) and of the
   same network written plainly in PyTorch (bf16 autocast, channels_last,
   torch.compile), on the same synthetic data; images/s for each, their
   ratio, and the fraction of peak achieved: training FLOPs per image
   (3 × 2 × 1,498,376,192 multiply-adds: forward, and backward twice that) ×
   images/s ÷ peak;
3. with ``--lenet``, ``lenet5_modern`` trained on MNIST to 99.2% test accuracy:
   wall seconds in each framework.

    KERAS_BACKEND=jax python bench/gpu.py [--batch 256] [--steps 30] [--lenet]
    python bench/gpu.py --smoke     # tiny sizes: checks the script itself on a CPU

The numbers go to docs/benchmarks.md with device, driver, versions and date.
Nothing here is a test: GPU figures are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOOGLENET_BN_MACS = 1_498_376_192  # torchvision's layout at 224×224, exact (see the model card)
TRAIN_FLOPS_PER_MAC = 6  # 2 FLOPs per multiply-add, forward + backward (≈ 2× forward)


def timed(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --------------------------------------------------------------------- peak

def matmul_peak(n):
    import jax
    import jax.numpy as jnp

    a = jnp.ones((n, n), jnp.bfloat16)
    b = jnp.ones((n, n), jnp.bfloat16)
    f = jax.jit(lambda a, b: a @ b)
    seconds = timed(lambda: f(a, b).block_until_ready(), repeats=10)
    return 2 * n ** 3 / seconds


# --------------------------------------------------------------------- cnn-zoo

def zoo_googlenet(batch, steps, size):
    import keras
    import numpy as np

    import cnn_zoo as zoo
    from cnn_zoo.compute import plan_for
    from cnn_zoo.recipe import load_recipe

    # The compute settings as `zoo train` resolves them (cnn_zoo.compute), in bf16 with XLA.
    plan = plan_for(load_recipe("googlenet_bn-imagenet", ["mixed_precision=bfloat16", "jit_compile=true",
                                                          f"steps_per_execution={steps}"]))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, 3), dtype="float32")
    y = rng.integers(0, 1000, batch)

    class Same(keras.utils.PyDataset):
        def __len__(self):
            return steps

        def __getitem__(self, i):
            return x, y

    with plan.scope():
        model = zoo.get_model("googlenet_bn", input_shape=(size, size, 3), num_classes=1000)
        plan.apply(model)  # as build_and_compile does: TensorFlow's fused batch norm
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy", **plan.compile_args())
        data = Same()
        model.fit(data, epochs=1, verbose=0)  # compile
        seconds = timed(lambda: model.fit(data, epochs=1, verbose=0), repeats=3, warmup=0)
    return batch * steps / seconds


# --------------------------------------------------------------------- PyTorch

def torch_googlenet(num_classes=1000):
    """torchvision's GoogLeNet layout, written out plainly (BN, 3×3 in the '5×5' branch)."""
    import torch
    from torch import nn

    class Conv(nn.Sequential):
        def __init__(self, cin, cout, k, s=1, p=0):
            super().__init__(nn.Conv2d(cin, cout, k, s, p, bias=False),
                             nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU(inplace=True))

    class Inception(nn.Module):
        def __init__(self, cin, n1, r3, n3, r5, n5, pp):
            super().__init__()
            self.b1 = Conv(cin, n1, 1)
            self.b2 = nn.Sequential(Conv(cin, r3, 1), Conv(r3, n3, 3, p=1))
            self.b3 = nn.Sequential(Conv(cin, r5, 1), Conv(r5, n5, 3, p=1))
            self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), Conv(cin, pp, 1))

        def forward(self, x):
            return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)

    pool = lambda k=3: nn.MaxPool2d(k, 2, ceil_mode=True)  # noqa: E731
    return nn.Sequential(
        Conv(3, 64, 7, 2, 3), pool(), Conv(64, 64, 1), Conv(64, 192, 3, p=1), pool(),
        Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64), pool(),
        Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
        Inception(512, 128, 128, 256, 24, 64, 64), Inception(512, 112, 144, 288, 32, 64, 64),
        Inception(528, 256, 160, 320, 32, 128, 128), pool(2),
        Inception(832, 256, 160, 320, 32, 128, 128), Inception(832, 384, 192, 384, 48, 128, 128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1024, num_classes),
    )


def torch_step_rate(batch, steps, size, compile_model=True):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = torch_googlenet().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    step_fn = torch.compile(step) if compile_model else step

    def run():
        for _ in range(steps):
            step_fn(x, y)
        if device == "cuda":
            torch.cuda.synchronize()

    seconds = timed(run, repeats=3, warmup=1)
    return batch * steps / seconds


# --------------------------------------------------------------------- LeNet to 99.2%

def lenet_time_to_accuracy(target=0.992):
    """Wall seconds of `zoo train lenet5_modern-mnist` until the test metric reaches ``target``."""
    import tempfile

    from cnn_zoo.train import train

    data = ROOT.parent / "shared" / "data" / "mnist"
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = train("lenet5_modern-mnist", Path(out) / "run", verbose=0,
                       overrides=[f"dataset.source=idx:{data}", "mixed_precision=bfloat16",
                                  "jit_compile=true"])
        seconds = time.perf_counter() - start
    return seconds, result.metrics.get("accuracy"), result.metrics.get("accuracy", 0) >= target


def environment():
    info = {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "backend": os.environ.get("KERAS_BACKEND")}
    try:
        import jax
        info.update(jax=jax.__version__, device=str(jax.devices()[0].device_kind))
    except Exception as e:  # noqa: BLE001 (report what is missing)
        info["jax"] = f"unavailable: {e}"
    try:
        import torch
        info.update(torch=torch.__version__,
                    cuda=torch.version.cuda, gpu=torch.cuda.get_device_name(0)
                    if torch.cuda.is_available() else None)
    except Exception as e:  # noqa: BLE001
        info["torch"] = f"unavailable: {e}"
    try:
        import keras
        info["keras"] = keras.__version__
    except Exception as e:  # noqa: BLE001
        info["keras"] = f"unavailable: {e}"
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--matmul", type=int, default=8192)
    ap.add_argument("--lenet", action="store_true", help="also time lenet5_modern to 99.2%")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script on a CPU")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    if args.smoke:
        args.batch, args.steps, args.size, args.matmul = 4, 2, 64, 256

    results = {"environment": environment(), "batch": args.batch, "size": args.size}
    results["peak_bf16_tflops"] = matmul_peak(args.matmul) / 1e12
    results["zoo_images_per_s"] = zoo_googlenet(args.batch, args.steps, args.size)
    results["torch_images_per_s"] = torch_step_rate(args.batch, args.steps, args.size,
                                                    compile_model=not args.smoke)
    flops_per_image = TRAIN_FLOPS_PER_MAC * GOOGLENET_BN_MACS * (args.size / 224) ** 2
    for side in ("zoo", "torch"):
        rate = results[f"{side}_images_per_s"]
        results[f"{side}_fraction_of_peak"] = flops_per_image * rate / (results["peak_bf16_tflops"] * 1e12)
    results["ratio_zoo_over_torch"] = results["zoo_images_per_s"] / results["torch_images_per_s"]
    if args.lenet:
        seconds, accuracy, reached = lenet_time_to_accuracy()
        results["lenet_zoo_seconds"], results["lenet_zoo_accuracy"] = seconds, accuracy
        results["lenet_reached_99.2"] = reached

    print(f"device: {results['environment'].get('gpu') or results['environment'].get('device')}")
    print(f"bf16 matmul peak: {results['peak_bf16_tflops']:.1f} TFLOP/s")
    print("| side | images/s | fraction of peak |\n| --- | --- | --- |")
    for side, label in (("zoo", "cnn-zoo (Keras/JAX, bf16, XLA)"),
                        ("torch", "PyTorch (bf16 autocast, channels_last, compile)")):
        print(f"| {label} | {results[f'{side}_images_per_s']:,.0f} | "
              f"{results[f'{side}_fraction_of_peak']:.1%} |")
    print(f"ratio cnn-zoo / PyTorch: {results['ratio_zoo_over_torch']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
