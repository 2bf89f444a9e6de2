#!/usr/bin/python3
"""Write small models at opsets 18 to 21 with numpy goldens, for bnrun's
end-to-end test of the forms those opsets add (opsets_test.go).

    make_opset_tests.py [OUTDIR]     (default: testdata/opsets next to models/)

Debian's python3-onnx (1.12) knows opsets up to 17 only: onnx.helper still
writes any opset number into opset_import and any op or attribute into a
node, so the models are built with it and the checker is not run. Every
golden is computed here in numpy (float64, rounded to float32 at the end)
from the operator's definition in the ONNX specification, not by any
runtime. Layout (the ONNX test one):

    OUTDIR/<name>/model.onnx
    OUTDIR/<name>/test_data_set_0/{input_N.pb, output_N.pb}

The models (inputs drawn from a fixed seed):

  reduce_op18          ReduceMax, ReduceMean with axes as an input; ReduceL1
                       over no axis (noop_with_empty_axes=1): |x|
  split_op18           Split num_outputs=3 of an axis of 7: 3, 3, 1
  pad_op18             Pad with the axes input (constant, a value)
  resize_op18          Resize linear antialias (axes 2, 3; scales 0.5, 0.4)
                       and cubic antialias with sizes, keep_aspect_ratio_policy
                       not_larger
  avgpool_op19         AveragePool with dilations, count_include_pad 0 and 1
  pad_resize_op19      Pad wrap; Resize half_pixel_symmetric (linear)
  gelu_op20            Gelu, approximate none and tanh
  cnn_op21             Conv, BatchNormalization, Relu, GlobalAveragePool,
                       Flatten, Gemm
"""

import math
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

# IR version that goes with each opset (ONNX's versioning table)
IR = {18: 8, 19: 9, 20: 9, 21: 10}


def save(outdir, name, opset, nodes, inputs, outputs, inits=()):
    """Writes a model of the given nodes with its one test data set.

    inputs and outputs are lists of (name, array); inits of (name, array).
    """
    def vi(n, a):
        return helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape))
    graph = helper.make_graph(
        nodes, name,
        [vi(n, a) for n, a in inputs],
        [vi(n, a) for n, a in outputs],
        initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              ir_version=IR[opset], producer_name="bnrun make_opset_tests.py")
    d = os.path.join(outdir, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for kind, vals in (("input", inputs), ("output", outputs)):
        for i, (n, a) in enumerate(vals):
            t = numpy_helper.from_array(np.asarray(a, dtype=np.float32), n)
            with open(os.path.join(ds, f"{kind}_{i}.pb"), "wb") as f:
                f.write(t.SerializeToString())
    print(f"{d}: opset {opset}, {len(nodes)} node(s)")


def f32(a):
    return np.asarray(a, dtype=np.float32)


# ---- Resize, per the spec: separable, one axis at a time ----

def keys(u, A):
    """Keys' cubic kernel at distance u >= 0."""
    if u <= 1:
        return (A + 2) * u ** 3 - (A + 3) * u ** 2 + 1
    if u < 2:
        return A * u ** 3 - 5 * A * u ** 2 + 8 * A * u - 4 * A
    return 0.0


def resize_axis(x, axis, scale, out, mode, coord, antialias, A=-0.75):
    """Resizes x (float64) along axis to out values at scale."""
    n = x.shape[axis]
    L = scale * n  # the resized length as a real number
    xm = np.moveaxis(x, axis, 0)
    y = np.zeros((out,) + xm.shape[1:])
    for i in range(out):
        if coord == "half_pixel":
            c = (i + 0.5) / scale - 0.5
        elif coord == "half_pixel_symmetric":
            adjustment = out / L
            offset = n / 2 * (1 - adjustment)
            c = offset + (i + 0.5) / scale - 0.5
        else:
            raise ValueError(coord)
        # taps x[b + p] with t = c - b in (0, 1]
        b = math.ceil(c) - 1
        t = c - b
        sp = min(scale, 1.0) if antialias else 1.0
        if mode == "linear":
            start = math.floor(-1 / sp) + 1
            ps = range(start, 2 - start)
            w = [max(0.0, 1 - abs((p - t) * sp)) for p in ps]
        else:
            start = math.floor(-2 / sp) + 1
            ps = range(start, 2 - start)
            w = [keys(abs((p - t) * sp), A) for p in ps]
        if antialias:
            s = sum(w)
            w = [v / s for v in w]
        acc = np.zeros(xm.shape[1:])
        for p, v in zip(ps, w):
            acc += v * xm[min(max(b + p, 0), n - 1)]
        y[i] = acc
    return np.moveaxis(y, 0, axis)


def resize(x, scales, outs, mode, coord="half_pixel", antialias=False, exact=False):
    """Resizes x by scales to outs: the scales rounded to float32 as the
    model's scales input holds them, or, exact, as they are (a scale
    computed from sizes)."""
    if not exact:
        scales = [float(np.float32(s)) for s in scales]
    y = x.astype(np.float64)
    for d in range(x.ndim):
        if scales[d] == 1 and outs[d] == x.shape[d]:
            continue
        y = resize_axis(y, d, scales[d], outs[d], mode, coord, antialias)
    return y


# ---- AveragePool, per the spec ----

def avgpool(x, k, s, d, pads, count_pad, ceil_mode=False):
    """2-D average pooling of x (N, C, H, W); pads [top, left, bottom, right]."""
    N, C, H, W = x.shape
    outs = []
    for a, size in enumerate((H, W)):
        ext = (k[a] - 1) * d[a] + 1
        span = size + pads[a] + pads[a + 2] - ext
        o = (-(-span // s[a]) if ceil_mode else span // s[a]) + 1
        # a last window starting in the end padding is dropped
        if ceil_mode and (o - 1) * s[a] >= size + pads[a]:
            o -= 1
        outs.append(o)
    y = np.zeros((N, C, outs[0], outs[1]))
    for oh in range(outs[0]):
        for ow in range(outs[1]):
            acc = np.zeros((N, C))
            cnt = 0
            for kh in range(k[0]):
                for kw in range(k[1]):
                    ih = oh * s[0] - pads[0] + kh * d[0]
                    iw = ow * s[1] - pads[1] + kw * d[1]
                    inside = 0 <= ih < H and 0 <= iw < W
                    in_padded = (-pads[0] <= ih < H + pads[2]) and (-pads[1] <= iw < W + pads[3])
                    if inside:
                        acc += x[:, :, ih, iw]
                        cnt += 1
                    elif count_pad and in_padded:
                        cnt += 1
            y[:, :, oh, ow] = acc / cnt
    return y


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(here, "..", "testdata", "opsets"))
    rng = np.random.default_rng(2024)
    N = helper.make_node

    # ---- opset 18 ----
    x = f32(rng.standard_normal((2, 3, 4)))
    xd = x.astype(np.float64)
    save(outdir, "reduce_op18", 18, [
        N("ReduceMax", ["x", "ax1"], ["ymax"]),
        N("ReduceMean", ["x", "axm1"], ["ymean"], keepdims=0),
        N("ReduceL1", ["x"], ["yl1"], noop_with_empty_axes=1),
    ], [("x", x)], [
        ("ymax", f32(xd.max(axis=1, keepdims=True))),
        ("ymean", f32(xd.mean(axis=-1))),
        ("yl1", f32(np.abs(xd))),
    ], [("ax1", np.array([1], np.int64)), ("axm1", np.array([-1], np.int64))])

    x = f32(rng.standard_normal((2, 7)))
    save(outdir, "split_op18", 18, [
        N("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
    ], [("x", x)], [("a", x[:, 0:3]), ("b", x[:, 3:6]), ("c", x[:, 6:7])])

    x = f32(rng.standard_normal((1, 2, 3, 4)))
    # pads [1, 0, 2, 1] for axes [-1, 2]: last axis 1 before, 2 after; axis 2 none before, 1 after
    save(outdir, "pad_op18", 18, [
        N("Pad", ["x", "pads", "value", "axes"], ["y"]),
    ], [("x", x)], [("y", np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)), constant_values=1.5))],
        [("pads", np.array([1, 0, 2, 1], np.int64)), ("value", f32(1.5)), ("axes", np.array([-1, 2], np.int64))])

    x = f32(rng.standard_normal((1, 2, 8, 10)))
    # linear antialias: axes 2, 3 at 0.5 and 0.4 -> 4 x 4
    lin = resize(x, [1, 1, 0.5, 0.4], [1, 2, 4, 4], "linear", antialias=True)
    # cubic antialias, sizes 3 x 3 not_larger: scale min(3/8, 3/10) = 0.3 -> round(2.4), round(3) = 2 x 3
    cub = resize(x, [1, 1, 0.3, 0.3], [1, 2, 2, 3], "cubic", antialias=True, exact=True)
    save(outdir, "resize_op18", 18, [
        N("Resize", ["x", "", "scales"], ["ylin"], mode="linear", antialias=1, axes=[2, 3]),
        N("Resize", ["x", "", "", "sizes"], ["ycub"], mode="cubic", antialias=1, axes=[-2, -1],
          keep_aspect_ratio_policy="not_larger"),
    ], [("x", x)], [("ylin", f32(lin)), ("ycub", f32(cub))],
        [("scales", f32([0.5, 0.4])), ("sizes", np.array([3, 3], np.int64))])

    # ---- opset 19 ----
    x = f32(rng.standard_normal((1, 2, 7, 7)))
    xd = x.astype(np.float64)
    save(outdir, "avgpool_op19", 19, [
        N("AveragePool", ["x"], ["y0"], kernel_shape=[3, 3], dilations=[2, 2], pads=[1, 1, 1, 1], strides=[1, 2]),
        N("AveragePool", ["x"], ["y1"], kernel_shape=[2, 3], dilations=[3, 2], pads=[2, 1, 2, 1], strides=[2, 2],
          count_include_pad=1, ceil_mode=1),
    ], [("x", x)], [
        ("y0", f32(avgpool(xd, [3, 3], [1, 2], [2, 2], [1, 1, 1, 1], False))),
        ("y1", f32(avgpool(xd, [2, 3], [2, 2], [3, 2], [2, 1, 2, 1], True, ceil_mode=True))),
    ])

    x = f32(rng.standard_normal((1, 1, 3, 10)))
    # wrap: axis 3 padded 2 before, 3 after (numpy's wrap); half_pixel_symmetric: 10 -> 4 at 0.45
    sym = resize(x, [1, 1, 1, 0.45], [1, 1, 3, 4], "linear", coord="half_pixel_symmetric")
    save(outdir, "pad_resize_op19", 19, [
        N("Pad", ["x", "pads", "", "axes"], ["ywrap"], mode="wrap"),
        N("Resize", ["x", "", "scales"], ["ysym"], mode="linear", coordinate_transformation_mode="half_pixel_symmetric"),
    ], [("x", x)], [("ywrap", np.pad(x, ((0, 0), (0, 0), (0, 0), (2, 3)), mode="wrap")), ("ysym", f32(sym))],
        [("pads", np.array([2, 3], np.int64)), ("axes", np.array([3], np.int64)), ("scales", f32([1, 1, 1, 0.45]))])

    # ---- opset 20 ----
    x = f32(rng.standard_normal((2, 3, 5)) * 3)
    xd = x.astype(np.float64)
    erf = np.vectorize(math.erf)
    save(outdir, "gelu_op20", 20, [
        N("Gelu", ["x"], ["y"]),
        N("Gelu", ["x"], ["yt"], approximate="tanh"),
    ], [("x", x)], [
        ("y", f32(0.5 * xd * (1 + erf(xd / math.sqrt(2))))),
        ("yt", f32(0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd ** 3))))),
    ])

    # ---- opset 21: a mini CNN ----
    x = f32(rng.standard_normal((2, 3, 6, 6)))
    w = f32(rng.standard_normal((4, 3, 3, 3)) * 0.3)
    cb = f32(rng.standard_normal(4) * 0.1)
    gamma = f32(rng.uniform(0.8, 1.2, 4))
    beta = f32(rng.standard_normal(4) * 0.1)
    mean = f32(rng.standard_normal(4) * 0.1)
    var = f32(rng.uniform(0.5, 1.5, 4))
    gw = f32(rng.standard_normal((5, 4)) * 0.5)
    gb = f32(rng.standard_normal(5) * 0.1)
    xd = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 4, 6, 6))
    for i in range(6):
        for j in range(6):
            conv[:, :, i, j] = np.einsum("ncij,ocij->no", xd[:, :, i:i + 3, j:j + 3], w.astype(np.float64))
    conv += cb[None, :, None, None]
    bn = (conv - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None].astype(np.float64) + 1e-5) \
        * gamma[None, :, None, None] + beta[None, :, None, None]
    gap = np.maximum(bn, 0).mean(axis=(2, 3))
    y = gap @ gw.astype(np.float64).T + gb
    save(outdir, "cnn_op21", 21, [
        N("Conv", ["x", "w", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["b"], epsilon=1e-5),
        N("Relu", ["b"], ["r"]),
        N("GlobalAveragePool", ["r"], ["g"]),
        N("Flatten", ["g"], ["f"], axis=1),
        N("Gemm", ["f", "gw", "gb"], ["y"], transB=1),
    ], [("x", x)], [("y", f32(y))],
        [("w", w), ("cb", cb), ("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var), ("gw", gw), ("gb", gb)])


if __name__ == "__main__":
    main()
