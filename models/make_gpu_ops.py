"""Write testdata/gpuops/heads_op13/: a small model of the heads and
reductions issue 15 put on the GPU (LogSoftmax and Softmax along a middle
axis, Pow with a constant exponent, ReduceSum over the batch and height,
ReduceMean over the channels, ReduceMax and ReduceMin over non-trailing
axes, both keepdims) after a Conv and a BatchNorm, exported by PyTorch at
opset 13 with BatchNormalization kept, with PyTorch's outputs for a
[3, 4, 7, 6] input as goldens. The ONNX test layout; under 20 KB.

    /usr/bin/python3 models/make_gpu_ops.py testdata/gpuops
"""
import os
import sys

import torch
import torch.nn as nn
from onnx import numpy_helper


class Heads(nn.Module):
    """A Conv and a BatchNorm, then one output per head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 5, 3, padding=1)
        self.bn = nn.BatchNorm2d(5)

    def forward(self, x):
        a = self.bn(self.conv(x))
        return (torch.log_softmax(a, dim=1),
                torch.softmax(a, dim=2),
                torch.pow(torch.sigmoid(x) + 0.5, 1.7),
                a.sum(dim=(0, 2), keepdim=True),
                a.mean(dim=1),
                torch.amax(a, dim=(1, 3)),
                torch.amin(a, dim=2, keepdim=True))


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = Heads().eval()
    m.bn.running_mean.uniform_(-0.5, 0.5)
    m.bn.running_var.uniform_(0.5, 2)
    m.bn.weight.data.uniform_(0.5, 1.5)
    m.bn.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(3, 4, 7, 6)
    with torch.no_grad():
        ys = m(x)
    names = ["logsoftmax", "softmax", "pow", "sum", "mean", "max", "min"]
    d = os.path.join(out, "heads_op13")
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    torch.onnx.export(m, x, os.path.join(d, "model.onnx"), opset_version=13, input_names=["x"], output_names=names,
                      dynamic_axes={"x": {0: "N"}}, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy(), "x").SerializeToString())
    for i, (y, name) in enumerate(zip(ys, names)):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y.numpy(), name).SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
