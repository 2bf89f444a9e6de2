"""Network definitions shared by export.py (and later by training scripts).

Every builder returns an nn.Module in train mode with PyTorch's default
random initialisation; export.py seeds torch before calling it.
"""

import torch
from torch import nn

# Input shape (without batch dim) per architecture.
INPUT_SHAPES = {
    "resnet18": (3, 224, 224),
    "resnet50": (3, 224, 224),
    "densenet121": (3, 224, 224),
    "lenet": (1, 28, 28),
    "mlp": (1, 28, 28),
}

ARCHS = tuple(INPUT_SHAPES)


def lenet(num_classes=10):
    """d2l.ai LeNet with batch normalisation (chapter "Batch Normalization")."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )


class MLP(nn.Module):
    """Small MLP with BatchNorm1d. forward() flattens with x.view(x.size(0), -1),
    which ONNX export turns into Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    (a dynamic reshape a runtime has to evaluate at run time)."""

    def __init__(self, in_features=28 * 28, hidden=(64, 32), num_classes=10):
        super().__init__()
        h1, h2 = hidden
        self.fc1 = nn.Linear(in_features, h1)
        self.bn1 = nn.BatchNorm1d(h1)
        self.fc2 = nn.Linear(h1, h2)
        self.bn2 = nn.BatchNorm1d(h2)
        self.fc3 = nn.Linear(h2, num_classes)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = self.relu(self.bn1(self.fc1(x)))
        x = self.relu(self.bn2(self.fc2(x)))
        return self.fc3(x)


def mlp(num_classes=10):
    return MLP(num_classes=num_classes)


def build(arch, num_classes=None):
    """Build an architecture by name (random init, train mode)."""
    if arch in ("resnet18", "resnet50", "densenet121"):
        import torchvision
        ctor = getattr(torchvision.models, arch)
        # weights=None: random init, never downloads anything.
        return ctor(weights=None, num_classes=num_classes or 1000)
    if arch == "lenet":
        return lenet(num_classes or 10)
    if arch == "mlp":
        return mlp(num_classes or 10)
    raise ValueError(f"unknown arch {arch!r}; known: {', '.join(ARCHS)}")
