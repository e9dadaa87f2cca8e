"""``lenet5_modern`` in PyTorch, for the benchmarks' torch sides (import it only where torch is)."""


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
