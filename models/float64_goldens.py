#!/usr/bin/python3
"""Goldens from the ONNX graph itself evaluated in float64, to set runtimes'
float32 rounding against the exact answer rather than against PyTorch's own
float32 (which is a float32 computation too, with its own error).

    float64_goldens.py MODEL_DIR [MODEL_DIR ...]

For every MODEL_DIR/test_data_set_K it evaluates MODEL_DIR/model.onnx on
input_0.pb with torch in double precision (the weights as the file has them)
and writes MODEL_DIR/float64/test_data_set_K/: input_0.pb, output_0.pb (the
float64 answer rounded to float32, half an ulp) and, when the set has one,
ONNX Runtime's peer_output_0.pb (bench/ort_outputs.js), so that

    bnrun verify --peer MODEL_DIR/model.onnx MODEL_DIR/float64

prints bnrun's and ONNX Runtime's errors against float64. It prints the
error of PyTorch's golden (output_0.pb) against float64 too. Only the ops of
torchvision's CNN exports are evaluated (Conv, BatchNormalization, the
activations, pools, Add, Mul, Concat, Pad, Resize linear and nearest, Gemm,
shape computations); another op is an error naming it.

Use Debian's interpreter: /usr/bin/python3 (torch 1.13, onnx 1.12).
"""

import glob
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _tensor(a):
    t = torch.from_numpy(np.array(a))
    return t.double() if t.dtype in (torch.float32, torch.float16) else t


def _pad2(x, p):
    """Pads the last two axes by ONNX pads [top, left, bottom, right]."""
    return F.pad(x, (p[1], p[3], p[0], p[2]))


def _resize(x, a, ins):
    mode = a.get("mode", b"nearest").decode()
    coord = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    sizes = ins[3] if len(ins) > 3 and ins[3] is not None and ins[3].numel() else None
    scales = ins[2] if len(ins) > 2 and ins[2] is not None and ins[2].numel() else None
    if sizes is not None:
        size = [int(v) for v in sizes.tolist()[2:]]
    else:
        size = [int(np.floor(n * s)) for n, s in zip(x.shape[2:], scales.tolist()[2:])]
    if mode == "linear" and coord in ("half_pixel", "pytorch_half_pixel"):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if mode == "linear" and coord == "align_corners":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    if mode == "nearest" and coord == "asymmetric" and a.get("nearest_mode", b"round_prefer_floor") == b"floor":
        return F.interpolate(x, size=size, mode="nearest")
    raise NotImplementedError(f"Resize mode {mode} with {coord}")


def _pad(x, a, ins):
    """ONNX Pad: pads from the input (opset 11 on) or the attribute, begins
    then ends per axis; constant (the value input or attribute, default 0),
    reflect or edge; a negative pad crops (constant mode)."""
    if len(ins) > 3 and ins[3] is not None:
        raise NotImplementedError("Pad with axes")
    pads = ins[1].tolist() if len(ins) > 1 and ins[1] is not None else a["pads"]
    mode = a.get("mode", b"constant").decode()
    r = x.dim()
    fp = []  # F.pad's order: the last axis first, (begin, end) each
    for ax in reversed(range(r)):
        fp += [int(pads[ax]), int(pads[ax + r])]
    if mode == "constant":
        value = a.get("value", 0.0)
        if len(ins) > 2 and ins[2] is not None and ins[2].numel():
            value = float(ins[2].reshape(-1)[0])
        return F.pad(x, fp, value=value)
    if any(fp[2 * (r - 2):]) or mode not in ("reflect", "edge"):
        raise NotImplementedError(f"Pad mode {mode} on pads {pads}")
    return F.pad(x, fp[:2 * (r - 2)], mode={"reflect": "reflect", "edge": "replicate"}[mode])


def run(model, x):
    """Evaluates model's graph on input x in float64; returns output 0."""
    env = {i.name: _tensor(numpy_helper.to_array(i)) for i in model.graph.initializer}
    env[model.graph.input[0].name] = torch.from_numpy(np.array(x)).double()
    for n in model.graph.node:
        a = _attrs(n)
        i = [env[t] if t else None for t in n.input]
        op = n.op_type
        if op == "Constant":
            y = _tensor(numpy_helper.to_array(a["value"]))
        elif op == "Conv":
            y = F.conv2d(_pad2(i[0], a.get("pads", [0, 0, 0, 0])), i[1], i[2] if len(i) > 2 else None,
                         stride=a.get("strides", [1, 1]), dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        elif op == "BatchNormalization":
            shp = (1, -1, 1, 1)
            y = (i[0] - i[3].reshape(shp)) / torch.sqrt(i[4].reshape(shp) + a.get("epsilon", 1e-5)) \
                * i[1].reshape(shp) + i[2].reshape(shp)
        elif op == "Relu":
            y = torch.relu(i[0])
        elif op == "Clip":
            lo = i[1] if len(i) > 1 and i[1] is not None else a.get("min", -np.inf)
            hi = i[2] if len(i) > 2 and i[2] is not None else a.get("max", np.inf)
            y = torch.clamp(i[0], float(lo), float(hi))
        elif op == "Sigmoid":
            y = torch.sigmoid(i[0])
        elif op == "HardSigmoid":
            y = torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)
        elif op == "HardSwish":
            y = i[0] * torch.clamp(i[0] / 6 + 0.5, 0, 1)
        elif op in ("Add", "Mul", "Sub", "Div"):
            y = {"Add": torch.add, "Mul": torch.mul, "Sub": torch.sub, "Div": torch.div}[op](i[0], i[1])
        elif op in ("Identity", "Dropout"):
            y = i[0]
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True)
        elif op in ("MaxPool", "AveragePool"):
            p = a.get("pads", [0, 0, 0, 0])
            if p[0] != p[2] or p[1] != p[3]:
                raise NotImplementedError(f"{op} with asymmetric pads")
            if op == "MaxPool":
                y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", [1, 1]), (p[0], p[1]),
                                 a.get("dilations", [1, 1]), bool(a.get("ceil_mode", 0)))
            else:
                y = F.avg_pool2d(i[0], a["kernel_shape"], a.get("strides", [1, 1]), (p[0], p[1]),
                                 bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0)))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "Shape":
            y = torch.tensor(i[0].shape, dtype=torch.int64)
        elif op == "Gather":
            idx = i[1]
            y = torch.index_select(i[0], a.get("axis", 0), idx.reshape(-1)).reshape(
                i[0].shape[:a.get("axis", 0)] + idx.shape + i[0].shape[a.get("axis", 0) + 1:])
        elif op == "Unsqueeze":
            y = i[0]
            for ax in sorted(i[1].tolist() if len(i) > 1 else a["axes"]):
                y = y.unsqueeze(ax)
        elif op == "Concat":
            y = torch.cat(i, a["axis"])
        elif op == "Slice":
            y = i[0]
            axes = i[3].tolist() if len(i) > 3 and i[3] is not None else range(len(i[1]))
            steps = i[4].tolist() if len(i) > 4 and i[4] is not None else [1] * len(i[1])
            for s, e, ax, st in zip(i[1].tolist(), i[2].tolist(), axes, steps):
                if st != 1:
                    raise NotImplementedError("Slice with steps")
                idx = [slice(None)] * y.dim()
                idx[ax] = slice(s, min(e, y.shape[ax]))
                y = y[tuple(idx)]
        elif op == "Cast":
            y = i[0].to(torch.int64) if a["to"] == 7 else i[0].double()
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1].tolist())]
            y = i[0].reshape(shape)
        elif op == "Resize":
            y = _resize(i[0], a, i)
        elif op == "Pad":
            y = _pad(i[0], a, i)
        else:
            raise NotImplementedError(op)
        env[n.output[0]] = y
    return env[model.graph.output[0].name].numpy()


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    for d in argv:
        model = onnx.load(os.path.join(d, "model.onnx"))
        for ts in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
            inp = onnx.load_tensor(os.path.join(ts, "input_0.pb"))
            y64 = run(model, numpy_helper.to_array(inp))
            out = os.path.join(d, "float64", os.path.basename(ts))
            os.makedirs(out, exist_ok=True)
            shutil.copy(os.path.join(ts, "input_0.pb"), out)
            name = model.graph.output[0].name
            onnx.save_tensor(numpy_helper.from_array(y64.astype(np.float32), name), os.path.join(out, "output_0.pb"))
            if os.path.exists(os.path.join(ts, "peer_output_0.pb")):
                shutil.copy(os.path.join(ts, "peer_output_0.pb"), out)
            g = numpy_helper.to_array(onnx.load_tensor(os.path.join(ts, "output_0.pb"))).astype(np.float64)
            e = np.abs(g - y64)
            bad = int((e > 1e-4 + 1e-4 * np.abs(y64)).sum())
            print(f"{out}: PyTorch's golden against float64: max_abs {e.max():.3g}, {bad} of {e.size} past 1e-4 + 1e-4·|g|")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
