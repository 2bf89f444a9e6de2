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
    "mobilenet_v2": (3, 224, 224),
    "lenet": (1, 28, 28),
    "mlp": (1, 28, 28),
}

# Other torchvision classifiers of the same families, for measuring that
# speed holds on networks nobody tuned for (bench/family.sh); gen.sh does
# not export them by default.
FAMILY = ("resnet34", "resnext50_32x4d", "wide_resnet50_2", "densenet169",
          "mnasnet1_0", "regnet_y_800mf", "efficientnet_b0", "mobilenet_v3_small",
          "mobilenet_v3_large", "shufflenet_v2_x1_0")
for _a in FAMILY:
    INPUT_SHAPES[_a] = (3, 224, 224)

# torchvision's segmentation networks (random weights, no pretrained
# backbone), exported with their "out" head only: a [N, 21, H, W] class map.
SEGMENTATION = ("fcn_resnet50", "deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large",
                "lraspp_mobilenet_v3_large")
for _a in SEGMENTATION:
    INPUT_SHAPES[_a] = (3, 224, 224)


class SegmentationOut(nn.Module):
    """A torchvision segmentation model returning its "out" tensor alone."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]

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


class TinyRGB(nn.Module):
    """A small RGB classifier of any input size (two Conv-BN-ReLU, the
    second strided, global average pooling, 5 classes): testdata/dynamic,
    exported by goldens.py with dynamic height and width."""

    def __init__(self, num_classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


# Narrow members of the families whose ops the GPU needs (testdata/family,
# exported by goldens.py): torchvision's own blocks, so that the exports
# have the real networks' op patterns, with few channels and blocks.


def _tiny_mobilenet_v3_features():
    """A MobileNetV3 of torchvision's blocks: ReLU and HardSwish layers,
    squeeze-excitation (global pool, two 1x1 convs, HardSigmoid, Mul),
    3x3 and 5x5 depthwise, strides 2 and residuals."""
    from torchvision.models.mobilenetv3 import InvertedResidualConfig as C, MobileNetV3
    setting = [
        C(8, 3, 8, 8, True, "RE", 2, 1, 1.0),
        C(8, 3, 24, 12, False, "RE", 2, 1, 1.0),
        C(12, 3, 36, 12, False, "RE", 1, 1, 1.0),
        C(12, 5, 48, 16, True, "HS", 2, 1, 1.0),
        C(16, 5, 64, 16, True, "HS", 1, 1, 1.0),
        C(16, 3, 64, 24, True, "HS", 2, 1, 1.0),
    ]
    return MobileNetV3(setting, last_channel=64, num_classes=10)


class TinyMobileNetV3(nn.Module):
    """MobileNetV3-Large's layer types at a few channels, 10 classes."""

    def __init__(self):
        super().__init__()
        self.net = _tiny_mobilenet_v3_features()

    def forward(self, x):
        return self.net(x)


class TinyEfficientNet(nn.Module):
    """EfficientNet-B0's layer types (MBConv with SiLU, squeeze-excitation
    with a Sigmoid gate, 3x3 and 5x5 depthwise) at a few channels, 10
    classes."""

    def __init__(self):
        super().__init__()
        from torchvision.models.efficientnet import EfficientNet, MBConvConfig as C
        setting = [
            C(1, 3, 1, 8, 8, 1),
            C(6, 3, 2, 8, 12, 2),
            C(6, 5, 2, 12, 16, 1),
            C(6, 3, 2, 16, 24, 2),
        ]
        self.net = EfficientNet(setting, dropout=0.2, num_classes=10, last_channel=48)

    def forward(self, x):
        return self.net(x)


class TinyLRASPP(nn.Module):
    """torchvision's LR-ASPP head (a HardSigmoid-gated branch of a global
    pool, two bilinear Resizes to sizes computed from shapes) on
    TinyMobileNetV3's features, 5 classes at the input's size."""

    def __init__(self):
        super().__init__()
        from torchvision.models._utils import IntermediateLayerGetter
        from torchvision.models.segmentation.lraspp import LRASPP
        features = _tiny_mobilenet_v3_features().features
        # as torchvision's _lraspp_mobilenetv3: the stride-8 stage's output and the last
        stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
        low, high = stages[-4], stages[-1]
        backbone = IntermediateLayerGetter(features, return_layers={str(low): "low", str(high): "high"})
        self.net = LRASPP(backbone, features[low].out_channels, features[high].out_channels, 5, inter_channels=16)

    def forward(self, x):
        return self.net(x)["out"]


class TinyUNet(nn.Module):
    """A U-Net-style decoder over a small BN encoder: ConvTranspose2d
    (stride 2, BN after it), a skip connection by Concat, nearest
    upsampling by 2 and a bilinear Resize with align_corners, 4 classes at
    the input's size."""

    def __init__(self):
        super().__init__()

        def cbr(cin, cout, stride=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
        self.enc1 = cbr(3, 8)
        self.enc2 = cbr(8, 16, 2)
        self.enc3 = cbr(16, 24, 2)
        self.up1 = nn.Sequential(nn.ConvTranspose2d(24, 16, 2, stride=2), nn.BatchNorm2d(16), nn.ReLU())
        self.dec1 = cbr(32, 16)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec2 = cbr(24, 8)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        d = self.dec1(torch.cat([self.up1(self.enc3(e2)), e2], 1))
        d = self.dec2(torch.cat([self.up2(d), e1], 1))
        y = self.head(d)
        return nn.functional.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)


class TinyShuffleNet(nn.Module):
    """ShuffleNetV2's layer types (channel split, channel shuffle by
    Reshape-Transpose-Reshape, depthwise 3x3) at a few channels, 10
    classes."""

    def __init__(self):
        super().__init__()
        from torchvision.models.shufflenetv2 import ShuffleNetV2
        self.net = ShuffleNetV2([2, 1, 1], [8, 16, 32, 48, 64], num_classes=10)

    def forward(self, x):
        return self.net(x)


def build(arch, num_classes=None):
    """Build an architecture by name (random init, train mode)."""
    if arch in ("resnet18", "resnet50", "densenet121", "mobilenet_v2") + FAMILY:
        import torchvision
        ctor = getattr(torchvision.models, arch)
        # weights=None: random init, never downloads anything.
        return ctor(weights=None, num_classes=num_classes or 1000)
    if arch in SEGMENTATION:
        import torchvision.models.segmentation as seg
        ctor = getattr(seg, arch)
        # weights=None and weights_backbone=None: random init, no download.
        return SegmentationOut(ctor(weights=None, weights_backbone=None, num_classes=num_classes or 21,
                                    aux_loss=False) if "lraspp" not in arch else
                               ctor(weights=None, weights_backbone=None, num_classes=num_classes or 21))
    if arch == "lenet":
        return lenet(num_classes or 10)
    if arch == "mlp":
        return mlp(num_classes or 10)
    raise ValueError(f"unknown arch {arch!r}; known: {', '.join(ARCHS)}")


# ---------------------------------------------------------------------------
# Fashion-MNIST networks trained by train_fashion.py. Each takes float32
# [N,1,28,28] pixels in [0,1] and returns 10 logits; the input normalisation
# is part of the network (a Sub and a Div node in ONNX), so every runtime fed
# the same pixels computes the same answer. They are not in ARCHS/INPUT_SHAPES
# (export.py's random-init exports are unchanged).

FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


class Normalize(nn.Module):
    """(x - mean) / std with per-channel constants kept as buffers (ONNX
    initializers of shape [1,C,1,1])."""

    def __init__(self, mean=(FASHION_MEAN,), std=(FASHION_STD,)):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def fashion_lenet(num_classes=10):
    """d2l BN-LeNet (same layers as lenet()) with the input normalisation inside."""
    return nn.Sequential(Normalize(), lenet(num_classes))


class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU, conv3x3-BN, + shortcut, ReLU. The
    shortcut is the identity, or a strided 1x1 conv + BN when the shape changes."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.shortcut is None else self.shortcut(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class FashionResNet(nn.Module):
    """Small CIFAR-style ResNet for 28x28: stem conv3x3-BN-ReLU, three stages
    of BasicBlocks (widths w, 2w, 4w at 28x28, 14x14, 7x7; the first block of
    stages 2 and 3 is strided with a 1x1 conv+BN projection shortcut), global
    average pool, Linear."""

    def __init__(self, width=16, blocks=(1, 1, 1), num_classes=10):
        super().__init__()
        self.norm = Normalize()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers, cin = [], width
        for i, n in enumerate(blocks):
            cout = width * 2 ** i
            for j in range(n):
                layers.append(BasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(self.norm(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class DenseLayer(nn.Module):
    """Bottleneck dense layer: BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k); the
    output is concatenated to the input."""

    def __init__(self, cin, growth, bn_size=4):
        super().__init__()
        self.f = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
            nn.Conv2d(cin, bn_size * growth, 1, bias=False),
            nn.BatchNorm2d(bn_size * growth), nn.ReLU(inplace=True),
            nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.f(x)], 1)


class FashionDenseNet(nn.Module):
    """Small DenseNet-BC for 28x28: stem conv3x3 (2k channels)-BN-ReLU-MaxPool(2)
    (torchvision's stem, scaled down), dense blocks of bottleneck layers at
    14x14, 7x7 and 3x3, transitions BN-ReLU-Conv1x1(compression 0.5)-AvgPool(2)
    (the second one pools 7x7 to 3x3, dropping the last row and column), final
    BN-ReLU, global average pool, Linear. stem_pool=False keeps the first
    block at 28x28 (4x the cost)."""

    def __init__(self, growth=12, layers=(4, 4, 4), bn_size=4, stem_pool=True, num_classes=10):
        super().__init__()
        self.norm = Normalize()
        c = 2 * growth
        feats = [nn.Conv2d(1, c, 3, 1, 1, bias=False)]
        if stem_pool:
            feats += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        for i, n in enumerate(layers):
            for _ in range(n):
                feats.append(DenseLayer(c, growth, bn_size))
                c += growth
            if i < len(layers) - 1:
                cout = c // 2
                feats += [nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                          nn.Conv2d(c, cout, 1, bias=False), nn.AvgPool2d(2)]
                c = cout
        feats += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*feats)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.features(self.norm(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def fashion_resnet(num_classes=10, **kw):
    return FashionResNet(num_classes=num_classes, **kw)


def fashion_densenet(num_classes=10, **kw):
    return FashionDenseNet(num_classes=num_classes, **kw)


FASHION_ARCHS = {
    "fashion_lenet": fashion_lenet,
    "fashion_resnet": fashion_resnet,
    "fashion_densenet": fashion_densenet,
}
