#!/usr/bin/env python3
"""Sets bnrun's per-node profile beside ONNX Runtime's for one model.

usage: bench/profile_join.py BNRUN.json ORT.tsv

BNRUN.json is `bnrun bench MODEL --profile --json`; ORT.tsv is
`node bench/ort_nodes.js MODEL` (nodes in execution order with output
shapes). Both runtimes fuse differently (ORT a Conv with its activation,
bnrun also a depthwise block with the 1x1 convolutions around it), so the
layers are matched in order: each bnrun convolution or Gemm takes ORT's
next convolutions and Gemms up to the first whose output has its output
shape. Every other op is summed per op type on each side. Times are the
medians per run in microseconds; the ratio is bnrun / ORT.
"""
import json
import sys

LAYERS_BNRUN = {"Conv", "bnrun.FusedConv", "bnrun.DwBlock", "Gemm", "bnrun.FusedGemm", "MatMul"}
LAYERS_ORT = {"Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul", "NhwcConv", "FusedMatMul"}
LOOKAHEAD = 4  # ORT nodes one bnrun node may cover


def main(bn_path, ort_path):
    with open(bn_path) as f:
        prof = json.load(f)["profile"]
    bn = [(n["Node"], n["Op"], n["Shape"], n["Time"] / 1e3) for n in prof["Nodes"]]
    kernel = {n["Node"]: n.get("Kernel", "") for n in prof["Nodes"]}
    ort = []
    with open(ort_path) as f:
        for line in f:
            name, op, us, shape = line.rstrip("\n").split("\t")
            ort.append((name, op, json.loads(shape), float(us)))

    layers_o = [o for o in ort if o[1] in LAYERS_ORT]
    rows, i = [], 0
    for name, op, shape, us in bn:
        if op not in LAYERS_BNRUN:
            continue
        took = None
        for j in range(i, min(i + LOOKAHEAD, len(layers_o))):
            if same_layer(layers_o[j][2], shape):
                took = layers_o[i:j + 1]
                i = j + 1
                break
        rows.append((name, op, shape, us, took))

    print("%-44s %-16s %-18s %9s %9s %6s  %s" % ("bnrun node", "op", "output", "bnrun_us", "ort_us", "ratio", "bnrun kernel"))
    tb = to = 0.0
    for name, op, shape, us, took in rows:
        if took is None:
            print("%-44s %-16s %-18s %9.0f %9s %6s  %s" % (name[-44:], op, fmt(shape), us, "?", "", kernel[name]))
            continue
        ou = sum(t[3] for t in took)
        tb, to = tb + us, to + ou
        cover = "(%d)" % len(took) if len(took) > 1 else ""
        print("%-44s %-16s %-18s %9.0f %9.0f %6.2f %3s %s" % (name[-44:], op, fmt(shape), us, ou, us / ou if ou else 0, cover, kernel[name]))
    print("%-80s %9.0f %9.0f %6.2f" % ("matched convolutions and Gemms", tb, to, tb / to if to else 0))

    other_b, other_o = {}, {}
    for _, op, _, us in bn:
        if op not in LAYERS_BNRUN:
            other_b[op] = other_b.get(op, 0) + us
    for _, op, _, us in ort:
        if op not in LAYERS_ORT:
            other_o[op] = other_o.get(op, 0) + us
    print("\nother ops, bnrun:", ", ".join("%s %.0f" % kv for kv in sorted(other_b.items(), key=lambda kv: -kv[1])))
    print("other ops, ORT:  ", ", ".join("%s %.0f" % kv for kv in sorted(other_o.items(), key=lambda kv: -kv[1])))
    print("total: bnrun %.0f us, ORT %.0f us (profiled runs)" % (sum(b[3] for b in bn), sum(o[3] for o in ort)))

    worst = sorted((r for r in rows if r[4]), key=lambda r: -(r[3] - sum(t[3] for t in r[4])))[:10]
    print("\nlargest differences:")
    for name, op, shape, us, took in worst:
        print("  %+7.0f us  %s %s %s  %s" % (us - sum(t[3] for t in took), name[-44:], op, fmt(shape), kernel[name]))


def same_layer(ort_shape, shape):
    """Whether ORT's output shape is bnrun's: ORT's NCHWc tensors report
    their channels rounded up to its block (8 or 16), as 24 channels show
    as 32."""
    if ort_shape == shape:
        return True
    if len(ort_shape) != 4 or len(shape) != 4 or ort_shape[0] != shape[0] or ort_shape[2:] != shape[2:]:
        return False
    c, oc = shape[1], ort_shape[1]
    return any(oc == -(-c // b) * b for b in (8, 16))


def fmt(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
