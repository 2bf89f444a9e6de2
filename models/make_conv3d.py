"""Write testdata/conv3d/{bn3d,fused3d,ops3d}_op13/: a small 3-D CNN of the kind
video nets are (Conv3d, BatchNorm3d, ReLU, MaxPool3d, a grouped strided
Conv3d, BatchNorm3d, ReLU, AdaptiveAvgPool3d, Linear), exported by PyTorch
with BatchNormalization kept (bn) and folded (fused), with a golden for a
[2, 3, 4, 16, 16] input; and a model of single 3-D layers side by side
(ops), each output a golden for an attribute PyTorch's exporter writes:
ConvTranspose3d with strides, pads, output padding, dilations and groups,
MaxPool3d with dilations and ceil_mode, AvgPool3d with ceil_mode and with
count_include_pad, a grouped dilated strided Conv3d and a depthwise one.
The ONNX test layout; under 50 KB each.

    /usr/bin/python3 models/make_conv3d.py testdata/conv3d
"""
import os
import sys

import torch
import torch.nn as nn
from onnx import numpy_helper


class Layers(nn.Module):
    """Single 3-D layers applied to one input, one output each."""

    def __init__(self):
        super().__init__()
        self.ct = nn.ConvTranspose3d(4, 6, (3, 2, 3), stride=(2, 1, 2), padding=(1, 0, 1),
                                     output_padding=(1, 0, 1), groups=2, dilation=(1, 2, 1))
        self.mp = nn.MaxPool3d((2, 3, 2), stride=(2, 2, 1), padding=(1, 1, 0), dilation=(1, 2, 2), ceil_mode=True)
        self.ap = nn.AvgPool3d((3, 2, 3), stride=(2, 2, 2), padding=(1, 1, 1), ceil_mode=True, count_include_pad=False)
        self.apc = nn.AvgPool3d((2, 3, 2), stride=(2, 2, 2), padding=(1, 1, 0), count_include_pad=True)
        self.conv = nn.Conv3d(4, 6, (2, 3, 3), stride=(1, 2, 1), padding=(1, 0, 2), dilation=(2, 1, 2), groups=2)
        self.dw = nn.Conv3d(4, 8, 3, padding=1, groups=4)

    def forward(self, x):
        return (self.ct(x), self.mp(x), self.ap(x), self.apc(x), self.conv(x), torch.relu(self.dw(x)))


def save(d, model, x, ys, names, **kw):
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), opset_version=13, input_names=["x"],
                      output_names=names, dynamic_axes={n: {0: "N"} for n in ["x"] + names}, **kw)
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy(), "x").SerializeToString())
    for i, (y, name) in enumerate(zip(ys, names)):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y.numpy(), name).SerializeToString())


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = nn.Sequential(
        nn.Conv3d(3, 8, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)), nn.BatchNorm3d(8), nn.ReLU(),
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        nn.Conv3d(8, 12, 3, stride=2, padding=1, groups=2), nn.BatchNorm3d(12), nn.ReLU(),
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(12, 5)).eval()
    # statistics and affine parameters that are not the identity
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 4, 16, 16)
    with torch.no_grad():
        y = m(x)
    for flavour, kw in [("bn", dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)),
                        ("fused", {})]:
        save(os.path.join(out, f"{flavour}3d_op13"), m, x, [y], ["y"], **kw)

    layers = Layers().eval()
    x = torch.randn(1, 4, 5, 7, 6)
    with torch.no_grad():
        ys = layers(x)
    save(os.path.join(out, "ops3d_op13"), layers, x, ys, ["convtranspose", "maxpool", "avgpool", "avgpool_pad",
                                                        "conv", "depthwise"])


if __name__ == "__main__":
    main(sys.argv[1])
