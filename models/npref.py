#!/usr/bin/python3
"""Tiny independent numpy evaluator for the ONNX graphs export.py produces.

It exists to cross-check that an exported model.onnx really computes the
PyTorch goldens stored beside it (i.e. the ONNX semantics of the export, not
torch's), without onnxruntime. Only the ops and attributes these exports use
are implemented; anything else raises NotImplementedError.

    npref.py MODEL_DIR [MODEL_DIR...]     # checks every test_data_set_*
"""

import glob
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _im2col(x, kh, kw, sh, sw, dh, dw, oh, ow):
    n, c = x.shape[:2]
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                                 j * dw: j * dw + sw * (ow - 1) + 1: sw]
    return cols


def _pad_spatial(x, pads, value=0.0):
    nd = len(pads) // 2
    if not any(pads):
        return x
    pw = [(0, 0)] * (x.ndim - nd) + [(pads[i], pads[i + nd]) for i in range(nd)]
    return np.pad(x, pw, constant_values=value)


def _out_size(size, k, s, d, ceil=False):
    eff = (k - 1) * d + 1
    if ceil:
        return -(-(size - eff) // s) + 1
    return (size - eff) // s + 1


def conv(x, w, b, a):
    group = a.get("group", 1)
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("Conv auto_pad")
    x = _pad_spatial(x, a.get("pads", [0, 0, 0, 0]))
    n, c, h, wd = x.shape
    oh, ow = _out_size(h, kh, sh, dh), _out_size(wd, kw, sw, dw)
    m = w.shape[0]
    cg, mg = c // group, m // group
    out = np.empty((n, m, oh, ow), dtype=np.float32)
    for g in range(group):
        cols = _im2col(x[:, g * cg:(g + 1) * cg], kh, kw, sh, sw, dh, dw, oh, ow)
        cols = cols.reshape(n, cg * kh * kw, oh * ow)
        wg = w[g * mg:(g + 1) * mg].reshape(mg, -1)
        out[:, g * mg:(g + 1) * mg] = np.einsum("mk,nkp->nmp", wg, cols, optimize=True).reshape(n, mg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def pool(x, a, kind):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    ceil = bool(a.get("ceil_mode", 0))
    if ceil:
        raise NotImplementedError("ceil_mode")
    if kind == "max":
        xp = _pad_spatial(x, pads, -np.inf)
    else:
        xp = _pad_spatial(x, pads, 0.0)
    n, c, h, w = xp.shape
    oh, ow = _out_size(h, kh, sh, 1), _out_size(w, kw, sw, 1)
    cols = _im2col(xp, kh, kw, sh, sw, 1, 1, oh, ow)
    if kind == "max":
        return cols.max(axis=(2, 3))
    if any(pads) and not a.get("count_include_pad", 0):
        ones = _pad_spatial(np.ones((1, 1) + x.shape[2:], np.float32), pads, 0.0)
        cnt = _im2col(ones, kh, kw, sh, sw, 1, 1, oh, ow).sum(axis=(2, 3))
        return cols.sum(axis=(2, 3)) / cnt
    return cols.mean(axis=(2, 3))


def run(model, feeds):
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        a = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            out = numpy_helper.to_array(a["value"])
        elif op == "Conv":
            out = conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "BatchNormalization":
            if a.get("training_mode", 0):
                raise NotImplementedError("BatchNormalization training_mode=1")
            x, s, b, mean, var = ins
            shp = (1, -1) + (1,) * (x.ndim - 2)
            eps = a.get("epsilon", 1e-5)
            out = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + np.float32(eps)) * s.reshape(shp) + b.reshape(shp)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Sigmoid":
            out = 1 / (1 + np.exp(-ins[0]))
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "MaxPool":
            out = pool(ins[0], a, "max")
        elif op == "AveragePool":
            out = pool(ins[0], a, "avg")
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=tuple(range(2, ins[0].ndim)), keepdims=True)
        elif op == "Pad":
            mode = a.get("mode", b"constant")
            if mode not in (b"constant", "constant"):
                raise NotImplementedError(f"Pad mode {mode}")
            if opset < 11:
                pads, value = a["pads"], a.get("value", 0.0)
            else:
                pads = ins[1].tolist()
                value = ins[2].item() if len(ins) > 2 and ins[2] is not None else 0.0
            r = ins[0].ndim
            if any(p < 0 for p in pads):
                raise NotImplementedError("negative pads")
            out = np.pad(ins[0], [(pads[i], pads[i + r]) for i in range(r)], constant_values=value)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            out = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                out = out + a.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            out = ins[0] @ ins[1]
        elif op == "Concat":
            out = np.concatenate(ins, axis=a["axis"])
        elif op == "Shape":
            out = np.array(ins[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(ins[0], ins[1], axis=a.get("axis", 0))
        elif op == "Unsqueeze":
            axes = a["axes"] if opset < 13 else ins[1].tolist()
            out = ins[0]
            for ax in sorted(ax % (out.ndim + len(axes)) for ax in axes):
                out = np.expand_dims(out, ax)
        elif op == "Reshape":
            shape = [d if d != 0 else ins[0].shape[i] for i, d in enumerate(ins[1].tolist())]
            out = ins[0].reshape(shape)
        else:
            raise NotImplementedError(op)
        if op not in ("Shape", "Gather", "Unsqueeze", "Concat", "Constant", "Reshape", "Pad", "Flatten"):
            out = np.asarray(out, dtype=np.float32)
        env[node.output[0]] = out
    return [env[o.name] for o in model.graph.output]


def check_dir(d, rtol=1e-3, atol=1e-4):
    """Return the max abs error over all test data sets of d; raise if off."""
    model = onnx.load(os.path.join(d, "model.onnx"))
    worst = 0.0
    for ts in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
        x = onnx.load_tensor(os.path.join(ts, "input_0.pb"))
        y = numpy_helper.to_array(onnx.load_tensor(os.path.join(ts, "output_0.pb")))
        got = run(model, {x.name: numpy_helper.to_array(x)})[0]
        if got.shape != y.shape:
            raise AssertionError(f"{ts}: shape {got.shape} != golden {y.shape}")
        err = float(np.abs(got - y).max())
        worst = max(worst, err)
        if not np.allclose(got, y, rtol=rtol, atol=atol):
            raise AssertionError(f"{ts}: numpy reference differs from golden, max abs err {err:g}")
    return worst


def main(argv):
    bad = 0
    for d in argv:
        try:
            print(f"{d}: ok, max abs err {check_dir(d):.3g}", flush=True)
        except Exception as e:  # noqa: BLE001
            bad += 1
            print(f"{d}: FAIL {type(e).__name__}: {e}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
