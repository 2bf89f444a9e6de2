#!/usr/bin/python3
"""Generate the ONNX backend test data (node tests etc.) from Debian's
python3-onnx 1.12, i.e. what `backend-test-tools generate-data -o OUTDIR` does.

    gen_node_tests.py OUTDIR [--op-type Conv]

Debian's numpy (1.24) has dropped the numpy.float/object/bool/int aliases that
onnx 1.12's test-case modules still use, so they are put back before
onnx.backend.test.cmd_tools is imported.

Layout written (the standard ONNX one):
    OUTDIR/node/<test_name>/model.onnx
    OUTDIR/node/<test_name>/test_data_set_0/{input_N.pb,output_N.pb}
plus OUTDIR/simple/ (23 small model tests, same layout) and OUTDIR/real/
(9 dirs holding only data.json with a download URL; unusable offline).
With onnx 1.12: 922 node test dirs, about 27 MB, about 3 s.

The Resize and Upsample tests feed their scales and roi as graph inputs;
a runtime that plans per input shape needs them constant, as every
exported model has them (an initializer or a Constant). For each such test
a copy named <test_name>_const is added with those inputs made
initializers from the test data, so that the op's arithmetic is tested.
"""

import argparse
import os
import sys

import warnings

import numpy

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # numpy warns when probing the removed aliases
    for _name, _typ in (("float", float), ("object", object), ("bool", bool), ("int", int)):
        if not hasattr(numpy, _name):
            setattr(numpy, _name, _typ)


def main():
    ap = argparse.ArgumentParser(description="generate ONNX backend test data")
    ap.add_argument("outdir")
    ap.add_argument("--op-type", default=None,
                    help="only cases containing this operator (e.g. BatchNormalization)")
    args = ap.parse_args()

    from onnx.backend.test import cmd_tools

    argv = ["backend-test-tools", "generate-data", "-o", os.path.abspath(args.outdir)]
    if args.op_type:
        argv += ["-t", args.op_type]
    sys.argv = argv
    cmd_tools.main()

    const_variants(os.path.join(args.outdir, "node"))

    for kind in sorted(os.listdir(args.outdir)):
        p = os.path.join(args.outdir, kind)
        if os.path.isdir(p):
            print(f"{p}: {len(os.listdir(p))} test dirs")


def const_variants(node_dir):
    """Write <test>_const copies of the Resize and Upsample tests with their
    float inputs scales and roi made initializers (see the module doc)."""
    import glob
    import shutil

    import onnx

    if not os.path.isdir(node_dir):
        return
    for name in sorted(os.listdir(node_dir)):
        if not (name.startswith("test_resize") or name.startswith("test_upsample")) or name.endswith("_const"):
            continue
        src = os.path.join(node_dir, name)
        model = onnx.load(os.path.join(src, "model.onnx"))
        names = [i.name for i in model.graph.input]
        fixed = [k for k, n in enumerate(names) if n in ("scales", "roi")]
        if not fixed:
            continue
        dst = src + "_const"
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(dst)
        sets = sorted(glob.glob(os.path.join(src, "test_data_set_*")))
        # the constants from the first data set (every set has the same)
        for k in fixed:
            t = onnx.TensorProto()
            with open(os.path.join(sets[0], f"input_{k}.pb"), "rb") as f:
                t.ParseFromString(f.read())
            t.name = names[k]
            model.graph.initializer.append(t)
        kept = [k for k in range(len(names)) if k not in fixed]
        inputs = [model.graph.input[k] for k in kept]
        del model.graph.input[:]
        model.graph.input.extend(inputs)
        onnx.save(model, os.path.join(dst, "model.onnx"))
        for sd in sets:
            od = os.path.join(dst, os.path.basename(sd))
            os.makedirs(od)
            for j, k in enumerate(kept):
                shutil.copy(os.path.join(sd, f"input_{k}.pb"), os.path.join(od, f"input_{j}.pb"))
            for out in glob.glob(os.path.join(sd, "output_*.pb")):
                shutil.copy(out, od)


if __name__ == "__main__":
    main()
