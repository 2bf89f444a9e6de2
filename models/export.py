#!/usr/bin/python3
"""Export a randomly initialised CNN/MLP with BatchNormalization to ONNX, with
golden input/output pairs in the standard ONNX test layout.

Single export (OUT is the model directory itself):

    export.py --arch lenet --flavour bn --opset 13 --out OUT [--seed N]

All flavours x opsets of one arch in one process (OUT is a parent directory,
each export lands in OUT/<arch>_<flavour>_op<N>/); the model is built,
calibrated and run for the goldens once, then exported 10 times:

    export.py --arch resnet50 --all --out OUT [--skip-existing]

Each model directory holds:

    model.onnx
    test_data_set_0/input_0.pb, output_0.pb    batch 1
    test_data_set_1/input_0.pb, output_0.pb    batch 4

Flavours:
    bn     torch.onnx.export(training=PRESERVE, do_constant_folding=False) on the
           eval-mode model: every BatchNorm module stays a BatchNormalization node
           (inference form, running statistics).
    fused  plain eval export (defaults): the exporter folds Conv+BN; BN after
           Linear (Gemm/MatMul) or after Concat stays.

Goldens are computed by PyTorch itself (eval mode, torch.set_num_threads(1)),
so they are the same for every flavour and opset of one arch and seed.

Use Debian's interpreter: /usr/bin/python3 (torch 1.13, torchvision 0.14, onnx 1.12).
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep models/__pycache__ out of the work tree

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import nets  # noqa: E402

FLAVOURS = ("bn", "fused")
OPSETS = (9, 11, 13, 14, 17)
GOLDEN_BATCHES = (1, 4)  # test_data_set_0, test_data_set_1

# Per-channel normalisation used to turn uniform [0,1] "pixels" into realistic
# network inputs: ImageNet for the 3-channel nets, Fashion-MNIST for 1 channel.
NORM = {
    3: ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    1: ((0.2860,), (0.3530,)),
}


def dir_name(arch, flavour, opset):
    return f"{arch}_{flavour}_op{opset}"


def is_complete(d):
    files = ["model.onnx"]
    for i in range(len(GOLDEN_BATCHES)):
        files += [f"test_data_set_{i}/input_0.pb", f"test_data_set_{i}/output_0.pb"]
    return all(os.path.isfile(os.path.join(d, f)) for f in files)


def make_input(arch, batch, seed):
    """Fixed-seed realistic input: uniform pixels in [0,1], normalised per channel."""
    return make_pixels(nets.INPUT_SHAPES[arch], batch, seed)


def make_pixels(shape, batch, seed):
    """A [batch, *shape] input of uniform [0,1] pixels drawn with a fixed seed,
    normalised per channel (NORM) when shape has 1 or 3 channels; other channel
    counts get the pixels minus 0.5, times 4 (mean 0, std about 1.15)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((batch,) + tuple(shape), generator=g)
    if shape[0] not in NORM:
        return ((x - 0.5) * 4).contiguous()
    mean, std = NORM[shape[0]]
    view = (1, -1) + (1,) * (len(shape) - 1)
    mean = torch.tensor(mean).view(*view)
    std = torch.tensor(std).view(*view)
    return ((x - mean) / std).contiguous()


BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def build_model(arch, seed, calib_batches=None, calib_batch_size=None):
    """Random init with a fixed seed, randomised BN affine params, BN running
    statistics calibrated on realistic random inputs; returns the eval model."""
    torch.manual_seed(seed)
    model = nets.build(arch)
    if calib_batch_size is None:
        calib_batch_size = 8 if nets.INPUT_SHAPES[arch][0] == 3 else 64
    if calib_batches is None:
        calib_batches = 2 if nets.INPUT_SHAPES[arch][0] == 3 else 4
    return calibrate_bn(model, seed, calib_batches,
                        lambda i: make_input(arch, calib_batch_size, seed + 1000 + i))


def calibrate_bn(model, seed, batches, make_batch):
    """Give every BatchNorm module of model non-trivial affine parameters
    (gamma from U(0.8, 1.2), beta from N(0, 0.1^2), drawn with seed + 1) and
    running statistics averaged over make_batch(0) ... make_batch(batches-1)
    with the BN layers in train mode; returns the model in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in bns:
            # Non-trivial gamma/beta so that folding BN into Conv/Gemm is really
            # exercised (defaults are gamma=1, beta=0).
            m.weight.copy_(1.0 + 0.2 * (torch.rand(m.num_features, generator=g) - 0.5) * 2)
            m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average over the calibration batches
    model.eval()
    for m in bns:
        m.train()
    with torch.no_grad():
        for i in range(batches):
            model(make_batch(i))
    model.eval()
    for m in bns:
        m.momentum = 0.1  # restore the default; irrelevant in eval mode
    return model


def compute_goldens(model, arch, seed):
    torch.set_num_threads(1)
    goldens = []
    with torch.no_grad():
        for i, b in enumerate(GOLDEN_BATCHES):
            x = make_input(arch, b, seed + 100 + i)
            y = model(x)
            if not torch.isfinite(y).all():
                raise RuntimeError(f"{arch}: non-finite golden output")
            goldens.append((x.numpy(), y.numpy()))
    return goldens


def op_counts(model_proto):
    return collections.Counter(n.op_type for n in model_proto.graph.node)


def check_bn(arch, flavour, model_proto, n_bn_modules):
    """The bn flavour keeps one BatchNormalization per BN module; the fused one
    has no BatchNormalization fed directly by a Conv that feeds nothing else."""
    g = model_proto.graph
    bn_nodes = [n for n in g.node if n.op_type == "BatchNormalization"]
    if flavour == "bn":
        if len(bn_nodes) != n_bn_modules:
            raise RuntimeError(f"{arch}/bn: {len(bn_nodes)} BatchNormalization nodes, "
                               f"expected {n_bn_modules}")
        for n in bn_nodes:
            if len(n.output) != 1:
                raise RuntimeError(f"{arch}/bn: BatchNormalization {n.name} has "
                                   f"{len(n.output)} outputs (training form?)")
    else:
        producer = {o: n for n in g.node for o in n.output}
        uses = collections.Counter(i for n in g.node for i in n.input)
        for n in bn_nodes:
            # a Conv whose output also goes elsewhere (maxvit's pre-norm
            # BatchNorm beside a residual) cannot take the BN's weights
            p = producer.get(n.input[0])
            if p is not None and p.op_type == "Conv" and uses[n.input[0]] == 1:
                raise RuntimeError(f"{arch}/fused: BatchNormalization {n.name} after Conv not fused")
        has_conv = any(n.op_type == "Conv" for n in g.node)
        if has_conv and len(bn_nodes) >= n_bn_modules:
            raise RuntimeError(f"{arch}/fused: nothing fused ({len(bn_nodes)} BN nodes)")
    return len(bn_nodes)


def export_one(model, arch, flavour, opset, out_dir, goldens, seed, verify=False):
    """Export into a temporary sibling directory, verify, then rename into place
    so that an existing out_dir is always complete."""
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".", dir=parent)
    try:
        path = os.path.join(tmp, "model.onnx")
        dummy = make_input(arch, 2, seed + 99)
        kwargs = dict(
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=opset,
        )
        if flavour == "bn":
            kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        elif flavour != "fused":
            raise ValueError(f"unknown flavour {flavour!r}")
        assert not model.training
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, dummy, path, **kwargs)

        m = onnx.load(path)
        n_bn_modules = sum(1 for mod in model.modules() if isinstance(mod, BN_TYPES))
        check_bn(arch, flavour, m, n_bn_modules)
        meta = {
            "bnrun.arch": arch, "bnrun.flavour": flavour, "bnrun.seed": str(seed),
            "bnrun.torch": torch.__version__,
        }
        del m.metadata_props[:]
        for k, v in meta.items():
            m.metadata_props.add(key=k, value=v)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)

        in_name = m.graph.input[0].name
        out_name = m.graph.output[0].name
        assert (in_name, out_name) == ("input", "output"), (in_name, out_name)
        for i, (x, y) in enumerate(goldens):
            d = os.path.join(tmp, f"test_data_set_{i}")
            os.makedirs(d)
            with open(os.path.join(d, "input_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, in_name).SerializeToString())
            with open(os.path.join(d, "output_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(y, out_name).SerializeToString())

        if verify:
            # Independent numpy evaluation of the ONNX graph against the goldens.
            import npref
            npref.check_dir(tmp)

        os.chmod(tmp, 0o755)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
        return op_counts(m)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fmt_counts(c):
    return " ".join(f"{k}={v}" for k, v in sorted(c.items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", required=True, choices=nets.ARCHS)
    ap.add_argument("--flavour", choices=FLAVOURS + ("all",), default=None)
    ap.add_argument("--opset", default=None,
                    help="one opset, a comma list, or 'all' (%s)" % ",".join(map(str, OPSETS)))
    ap.add_argument("--out", required=True,
                    help="model dir (single export) or parent dir (--all / several combos)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all", action="store_true",
                    help="every flavour x opset into OUT/<arch>_<flavour>_op<N>/")
    ap.add_argument("--skip-existing", action="store_true",
                    help="skip model dirs that already exist and are complete")
    ap.add_argument("--verify", action="store_true",
                    help="also run the graph with the numpy reference (npref.py) and compare "
                         "with the goldens (about 1s for lenet/mlp, 5-20s per big model)")
    ap.add_argument("--keep-going", action="store_true",
                    help="report a failed combination and go on (exit status 1 at the end)")
    args = ap.parse_args(argv)

    flavours = FLAVOURS if args.all or args.flavour in (None, "all") else (args.flavour,)
    if args.all or args.opset in (None, "all"):
        opsets = OPSETS
    else:
        opsets = tuple(int(s) for s in args.opset.split(","))
    single = not args.all and len(flavours) == 1 and len(opsets) == 1
    if not single and not args.all and (args.flavour is None or args.opset is None):
        ap.error("give --flavour and --opset, or --all")

    jobs = []
    for fl in flavours:
        for op in opsets:
            d = args.out if single else os.path.join(args.out, dir_name(args.arch, fl, op))
            if args.skip_existing and is_complete(d):
                print(f"skip {d} (complete)")
                continue
            jobs.append((fl, op, d))
    if not jobs:
        return 0

    t0 = time.time()
    model = build_model(args.arch, args.seed)
    goldens = compute_goldens(model, args.arch, args.seed)
    print(f"{args.arch}: built, calibrated and goldens in {time.time() - t0:.1f}s "
          f"(out[0,:4]={goldens[0][1].ravel()[:4]})", flush=True)

    failed = []
    for fl, op, d in jobs:
        t = time.time()
        try:
            counts = export_one(model, args.arch, fl, op, d, goldens, args.seed, args.verify)
        except Exception as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {e}".strip().splitlines()
            print(f"FAILED {args.arch} {fl} opset {op}: {msg[0] if msg else e}", flush=True)
            failed.append((fl, op))
            if not args.keep_going:
                raise
            continue
        size = os.path.getsize(os.path.join(d, "model.onnx"))
        print(f"{dir_name(args.arch, fl, op)}: {time.time() - t:.1f}s {size / 1e6:.2f}MB "
              f"nodes={sum(counts.values())} BN={counts.get('BatchNormalization', 0)}"
              f"{' verified' if args.verify else ''} "
              f"| {fmt_counts(counts)}", flush=True)
    if failed:
        print("failed: " + ", ".join(f"{args.arch}_{fl}_op{op}" for fl, op in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
