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

    for kind in sorted(os.listdir(args.outdir)):
        p = os.path.join(args.outdir, kind)
        if os.path.isdir(p):
            print(f"{p}: {len(os.listdir(p))} test dirs")


if __name__ == "__main__":
    main()
