#!/usr/bin/python3
"""Export any PyTorch model to ONNX with PyTorch goldens, in the ONNX test
layout that `bnrun verify` reads.

    goldens.py MODEL --out DIR [--flavour both|bn|fused] [--opset 13]
               [--shape C,H,W ...] [--batch 1,2] [--dynamic batch|hw|none]
               [--seed 0] [--verify]

MODEL is a torchvision model name (resnet18, mobilenet_v3_small,
lraspp_mobilenet_v3_large, ...: random init, nothing is downloaded) or
module:Class, a class importable from the current folder, models/ or
PYTHONPATH, constructed with no arguments (nets:TinyRGB, mypkg.nets:Net).

The model gets a fixed seed, BatchNorm affine parameters drawn away from
1 and 0 and running statistics calibrated on random inputs (export.py's
calibrate_bn), so that a runtime that folds BN wrongly fails. Then:

    DIR/bn/     torch.onnx.export(training=PRESERVE, do_constant_folding=False):
                every BatchNorm module stays a BatchNormalization node
    DIR/fused/  a plain eval export: the exporter folds Conv+BN
    (one flavour alone, --flavour bn or fused, is written to DIR itself)

each with model.onnx and test_data_set_K/input_0.pb, output_J.pb: one set
per --batch entry (set K has batch[K] and shape[K]; a single --shape is used
for every set), inputs uniform [0,1] pixels normalised per channel (ImageNet's
mean and std for 3 channels), goldens from PyTorch in eval mode with
torch.set_num_threads(1). Several outputs (a tuple, or a dict's values) give
output_0.pb, output_1.pb, ...

--dynamic batch (the default) names the input's and outputs' first axis
"batch"; hw also makes a 4-D input's axes 2 and 3 "height" and "width"
(bnrun takes their sizes from `--dim height=H --dim width=W`); none exports
the shapes of the first set.

Use Debian's interpreter: /usr/bin/python3 (torch 1.13, torchvision 0.14, onnx 1.12).
"""

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep models/__pycache__ out of the work tree

import torch  # noqa: E402
from torch import nn  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import export  # noqa: E402
import nets  # noqa: E402


def build(spec, **kwargs):
    """A module from a torchvision name or module:Class, in train mode.
    kwargs go to a torchvision constructor (aux_logits=False, ...)."""
    if ":" in spec:
        mod_name, cls_name = spec.split(":", 1)
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            obj = importlib.import_module(mod_name)
        except ImportError as e:
            raise SystemExit(f"{spec}: cannot import {mod_name}: {e} (looked in the current folder, "
                             f"models/ and PYTHONPATH)")
        for part in cls_name.split("."):
            if not hasattr(obj, part):
                raise SystemExit(f"{spec}: {mod_name} has no {cls_name}")
            obj = getattr(obj, part)
        model = obj()
        if not isinstance(model, nn.Module):
            raise SystemExit(f"{spec}() is a {type(model).__name__}, not a torch.nn.Module")
        return model
    import torchvision
    import torchvision.models.segmentation as seg
    if hasattr(seg, spec) and not spec.startswith("_"):
        return nets.build(spec) if spec in nets.SEGMENTATION else nets.SegmentationOut(
            getattr(seg, spec)(weights=None, weights_backbone=None, **kwargs))
    ctor = getattr(torchvision.models, spec, None)
    if ctor is None or spec.startswith("_") or not callable(ctor):
        raise SystemExit(f"{spec}: not a torchvision model name nor module:Class")
    # weights=None: random init, never downloads anything.
    return ctor(weights=None, **kwargs)


def outputs_of(y):
    """A model's result as a list of (name, tensor)."""
    if isinstance(y, torch.Tensor):
        return [("output", y)]
    if isinstance(y, dict):
        return [(str(k), v) for k, v in y.items()]
    if isinstance(y, (tuple, list)):
        return [(f"output_{i}", v) for i, v in enumerate(y)]
    raise SystemExit(f"the model returns a {type(y).__name__}, not tensors")


def golden_sets(model, name, batches, shapes, seed):
    """PyTorch's outputs of the calibrated eval model on one input per test
    set (batch[K] inputs of shape[K], seed + 100 + K), with one thread:
    ([(input, [outputs])], output names)."""
    torch.set_num_threads(1)
    sets = []
    with torch.no_grad():
        for i, (b, s) in enumerate(zip(batches, shapes)):
            x = export.make_pixels(s, b, seed + 100 + i)
            outs = outputs_of(model(x))
            for oname, y in outs:
                if not torch.isfinite(y).all():
                    raise SystemExit(f"{name}: non-finite golden output {oname}")
            sets.append((x.numpy(), [y.numpy() for _, y in outs]))
            if i == 0:
                out_names = [n for n, _ in outs]
    if len(out_names) == 1:
        out_names = ["output"]
    return sets, out_names


def int_list(s):
    return [int(v) for v in s.split(",") if v.strip()]


def export_flavour(model, flavour, opset, dynamic, sets, dummy, out_names, out_dir, meta):
    """Export one flavour with the goldens into out_dir (through a temporary
    sibling folder renamed into place, so out_dir is complete or absent)."""
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".", dir=parent)
    try:
        path = os.path.join(tmp, "model.onnx")
        axes = {}
        if dynamic in ("batch", "hw"):
            axes["input"] = {0: "batch"}
            for n in out_names:
                axes[n] = {0: "batch"}
        if dynamic == "hw" and dummy.dim() == 4:
            axes["input"].update({2: "height", 3: "width"})
        kwargs = dict(input_names=["input"], output_names=out_names, dynamic_axes=axes or None,
                      opset_version=opset)
        if flavour == "bn":
            kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, dummy, path, **kwargs)
        m = onnx.load(path)
        n_bn = sum(1 for mod in model.modules() if isinstance(mod, export.BN_TYPES))
        if n_bn > 0:
            export.check_bn(meta["bnrun.model"], flavour, m, n_bn)
        del m.metadata_props[:]
        for k, v in dict(meta, **{"bnrun.flavour": flavour}).items():
            m.metadata_props.add(key=k, value=v)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)
        in_name = m.graph.input[0].name
        names = [o.name for o in m.graph.output]
        for i, (x, ys) in enumerate(sets):
            d = os.path.join(tmp, f"test_data_set_{i}")
            os.makedirs(d)
            with open(os.path.join(d, "input_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, in_name).SerializeToString())
            for j, y in enumerate(ys):
                with open(os.path.join(d, f"output_{j}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(y, names[j]).SerializeToString())
        os.chmod(tmp, 0o755)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
        return m
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="torchvision model name or module:Class")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--flavour", choices=("both", "bn", "fused"), default="both")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--shape", action="append", type=int_list,
                    help="input shape without the batch axis, e.g. 3,224,224 (default: 3,224,224); "
                         "repeat it to give each test set its own")
    ap.add_argument("--batch", type=int_list, default=[1, 2],
                    help="batch size of each test set, comma-separated (default 1,2)")
    ap.add_argument("--dynamic", choices=("batch", "hw", "none"), default="batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calib", type=int, default=2, help="calibration batches of 8 inputs (default 2)")
    ap.add_argument("--verify", action="store_true",
                    help="also check each export against the goldens with npref.py (numpy)")
    args = ap.parse_args(argv)

    shapes = args.shape or [[3, 224, 224]]
    if len(shapes) not in (1, len(args.batch)):
        ap.error(f"{len(shapes)} --shape for {len(args.batch)} test sets")
    if len(shapes) == 1:
        shapes = shapes * len(args.batch)
    if min(args.batch) < 1 or any(min(s) < 1 for s in shapes):
        ap.error("batch sizes and dims must be at least 1")
    if args.dynamic == "none" and len({(b,) + tuple(s) for b, s in zip(args.batch, shapes)}) > 1:
        ap.error("--dynamic none needs every test set at the same batch and shape")
    if args.dynamic != "hw" and len({tuple(s) for s in shapes}) > 1:
        ap.error("test sets of different shapes need --dynamic hw")

    torch.manual_seed(args.seed)
    model = build(args.model)
    model = export.calibrate_bn(model, args.seed, args.calib,
                                lambda i: export.make_pixels(shapes[0], 8, args.seed + 1000 + i))
    sets, out_names = golden_sets(model, args.model, args.batch, shapes, args.seed)
    batch0 = 2 if args.dynamic != "none" else args.batch[0]
    dummy = export.make_pixels(shapes[0], batch0, args.seed + 99)
    meta = {"bnrun.model": args.model, "bnrun.seed": str(args.seed), "bnrun.torch": torch.__version__}
    flavours = ("bn", "fused") if args.flavour == "both" else (args.flavour,)
    for fl in flavours:
        d = os.path.join(args.out, fl) if len(flavours) > 1 else args.out
        m = export_flavour(model, fl, args.opset, args.dynamic, sets, dummy, out_names, d, meta)
        if args.verify:
            import npref
            npref.check_dir(d)
        bn = sum(1 for n in m.graph.node if n.op_type == "BatchNormalization")
        size = os.path.getsize(os.path.join(d, "model.onnx"))
        print(f"{d}: {size / 1e6:.2f} MB, {len(m.graph.node)} nodes, {bn} BatchNormalization, "
              f"{len(sets)} test sets{' verified' if args.verify else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
