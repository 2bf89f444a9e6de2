"""Write testdata/conv1d/{bn,fused}_op13/: a small 1-D CNN of the kind
audio and sensor nets are (Conv1d, BatchNorm1d, ReLU, MaxPool1d, a grouped
strided Conv1d, AvgPool1d, AdaptiveAvgPool1d, Linear, BatchNorm1d after
the Linear), exported by PyTorch with BatchNormalization kept (bn) and
folded (fused), with a golden for a [2, 4, 40] input in the ONNX test
layout. A few KB each.

    /usr/bin/python3 models/make_conv1d.py testdata/conv1d
"""
import os
import sys

import torch
import torch.nn as nn
from onnx import numpy_helper


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = nn.Sequential(
        nn.Conv1d(4, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 3, stride=2, groups=2), nn.BatchNorm1d(8), nn.ReLU(), nn.AvgPool1d(2),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 3), nn.BatchNorm1d(3)).eval()
    # statistics and affine parameters that are not the identity
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 4, 40)
    with torch.no_grad():
        y = m(x)
    for flavour, kw in [("bn", dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)),
                        ("fused", {})]:
        d = os.path.join(out, f"{flavour}_op13")
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        torch.onnx.export(m, x, os.path.join(d, "model.onnx"), opset_version=13, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, **kw)
        with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x.numpy(), "x").SerializeToString())
        with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y.numpy(), "y").SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
