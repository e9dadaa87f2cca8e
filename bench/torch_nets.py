"""The benchmarks' torch networks, in one place (import it only where torch is): ``lenet5_modern``
written in PyTorch, and the torchvision network each ImageNet architecture is measured against."""

# zoo architecture -> its torchvision twin. torchvision's GoogLeNet has batch norm: googlenet_bn's
# twin, and only the nearest reference for the Caffe-layout googlenet (LRN, true 5x5 branches).
TORCHVISION = {"googlenet_bn": "googlenet", "googlenet": "googlenet", "resnet50": "resnet50"}


def lenet5_modern(softmax: bool = False):
    """conv 6@5×5, max-pool, conv 16@5×5, max-pool, conv 120@5×5, FC 84, FC 10, ReLU; NCHW 1×32×32."""
    from torch import nn

    layers = [
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    ]
    return nn.Sequential(*layers, *([nn.Softmax(dim=1)] if softmax else []))


def torchvision_net(arch: str, *, aux_logits: bool = False, transform_input: bool = False):
    """torchvision's twin of ``arch`` (weights=None); ``aux_logits`` and ``transform_input`` are
    GoogLeNet's (its aux heads, and its own ImageNet normalization of 0..1 inputs)."""
    import torchvision

    if arch not in TORCHVISION:
        raise SystemExit(f"no torchvision twin of {arch!r}: one of {', '.join(sorted(TORCHVISION))}")
    if TORCHVISION[arch] == "googlenet":
        return torchvision.models.googlenet(weights=None, aux_logits=aux_logits, init_weights=True,
                                            transform_input=transform_input)
    return getattr(torchvision.models, TORCHVISION[arch])(weights=None)


def compiled_frozen(net):
    """``torch.compile(net)`` as the benches time it: inductor, one static graph per batch size,
    frozen parameters (inductor's inference setting: BatchNorm folded into the convolutions, weights
    computed from parameters made once). Unfrozen, torch.compile ran classic LeNet-5 at 0.44x eager,
    its generated kernels recomputing them every call (docs/benchmarks.md)."""
    import torch
    import torch._inductor.config

    torch._inductor.config.freezing = True
    return torch.compile(net, dynamic=False)
