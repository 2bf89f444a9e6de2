"""Write testdata/gpuops/heads_op13/: a small model of the heads and
reductions issue 15 put on the GPU (LogSoftmax and Softmax along a middle
axis, Pow with a constant exponent, ReduceSum over the batch and height,
ReduceMean over the channels, ReduceMax and ReduceMin over non-trailing
axes, both keepdims) after a Conv and a BatchNorm, exported by PyTorch at
opset 13 with BatchNormalization kept, with PyTorch's outputs for a
[3, 4, 7, 6] input as goldens; and testdata/gpuops/reduce_op18/: the
other reductions (ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
ReduceLogSum of a Sigmoid, ReduceLogSumExp) over various axes, given as
opset 18's axes input, both keepdims, after a BatchNormalization, built
with onnx.helper (PyTorch 1.13 exports neither opset 18 nor most of these
ops) with numpy goldens (float64, rounded to float32 at the end). The ONNX
test layout; under 20 KB each.

    /usr/bin/python3 models/make_gpu_ops.py testdata/gpuops
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper


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


def reductions(out):
    """Writes reduce_op18: a BatchNormalization, then one reduction per output."""
    rng = np.random.default_rng(15)
    x = rng.standard_normal((3, 4, 7, 6)).astype(np.float32)
    scale = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    bias = rng.uniform(-0.2, 0.2, 4).astype(np.float32)
    mean = rng.uniform(-0.5, 0.5, 4).astype(np.float32)
    var = rng.uniform(0.5, 2, 4).astype(np.float32)
    eps = 1e-5
    c = (slice(None), None, None)  # a channel vector over [C, H, W]
    a = (x.astype(np.float64) - mean[c]) / np.sqrt(var[c].astype(np.float64) + eps) * scale[c] + bias[c]
    s = 1 / (1 + np.exp(-a))

    def lse(v, axes, keep):
        m = v.max(axis=axes, keepdims=True)
        r = m + np.log(np.exp(v - m).sum(axis=axes, keepdims=True))
        return r if keep else r.squeeze(axis=axes)

    # (op, input, axes (None: all), keepdims, golden)
    outs = [
        ("ReduceProd", "a", [1], 1, a.prod(axis=1, keepdims=True)),
        ("ReduceL1", "a", [0, 2], 0, np.abs(a).sum(axis=(0, 2))),
        ("ReduceL2", "a", [-1], 1, np.sqrt((a * a).sum(axis=3, keepdims=True))),
        ("ReduceL2", "a", None, 0, np.sqrt((a * a).sum())),
        ("ReduceSumSquare", "a", [1, 3], 0, (a * a).sum(axis=(1, 3))),
        ("ReduceLogSum", "s", [2], 1, np.log(s.sum(axis=2, keepdims=True))),
        ("ReduceLogSumExp", "a", [1, 2], 0, lse(a, (1, 2), False)),
    ]
    nodes = [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["a"], epsilon=eps),
             helper.make_node("Sigmoid", ["a"], ["s"])]
    inits = [numpy_helper.from_array(v, n) for n, v in
             [("scale", scale), ("bias", bias), ("mean", mean), ("var", var)]]
    names = []
    for i, (op, src, axes, keep, _) in enumerate(outs):
        name = f"{op[len('Reduce'):].lower()}{i}"
        ins = [src]
        if axes is not None:
            ins.append(f"axes{i}")
            inits.append(numpy_helper.from_array(np.array(axes, dtype=np.int64), f"axes{i}"))
        nodes.append(helper.make_node(op, ins, [name], keepdims=keep))
        names.append(name)
    graph = helper.make_graph(
        nodes, "reduce_op18", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(np.shape(o[4]))) for n, o in zip(names, outs)],
        initializer=inits)
    # Debian's onnx 1.12 knows opsets up to 17: the checker is not run
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8,
                              producer_name="bnrun make_gpu_ops.py")
    d = os.path.join(out, "reduce_op18")
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    for i, (name, o) in enumerate(zip(names, outs)):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(o[4], dtype=np.float32), name).SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
    reductions(sys.argv[1])
