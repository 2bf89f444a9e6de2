#!/usr/bin/python3
"""Verify bnrun on every torchvision 0.14 classification and segmentation
model that has BatchNormalization, in both export flavours, at opsets 13
to 21, against PyTorch's goldens (issue 15's "Done when").

    matrix.py [--out /tmp/matrix] [--bnrun /tmp/wtM-bnrun] [--models a,b,...]
              [--opsets 13-21] [--flavours bn,fused] [--size 64] [--keep-mb 50]
              [--max-params-mb 2000] [--no-peer] [--doc docs/matrix.md]

Models are enumerated, not hand-picked: torchvision.models.list_models() of
torchvision.models (classification) and of torchvision.models.segmentation,
each built with random weights (nothing is downloaded) and kept when it has
a BatchNorm module; the others are listed in the output as skipped, with
the reason (no BatchNorm; parameters past --max-params-mb, which a 2 GB
protobuf cannot hold). googlenet and inception_v3 are built with
aux_logits=False (their auxiliary heads only run in training mode, so their
BatchNorm modules would never be calibrated nor exported).

For each model, goldens.py's machinery (build, calibrate_bn, golden_sets,
export_flavour) calibrates BatchNorm on random inputs and computes PyTorch's
output on one input, batch 1, at 3x--size x--size (64, or the smallest of
64, 75, 96, 128, 224 the model accepts and torch.onnx exports: inception_v3
needs 75, maxvit_t and the VGGs 224, the VGGs' adaptive 7×7 pooling being
exportable only from a multiple of 7),
and exports OUT/<model>/<flavour>/op<N>/ for N in 13..17 with torch.onnx
(flavour bn: BatchNormalization kept; fused: the exporter folds Conv+BN).
onnx 1.12's version_converter stops at opset 17, so the models at 18..21
are the opset-17 export upgraded here by hand (upgrade()): the default
domain's version and the IR version raised (as make_opset_tests.py writes
them), and the one form those opsets change that torchvision's exports use,
a reduction's `axes` attribute (ReduceMean, ReduceMax, ... but ReduceSum),
moved to an int64 initializer input at 18; every other op torch writes
keeps its meaning at 18 to 21 (docs/opsets.md). The upgraded models keep
the opset-17 goldens (hard links).

Each folder is then checked with `bnrun verify`; an output out of tolerance
(atol = rtol = 1e-4) with no error gets ONNX Runtime's outputs on the same
inputs (bench/ort_outputs.js, when onnxruntime-node is found) and `bnrun
verify --peer`: it passes "as peer" when ONNX Runtime's error is at least
as large. Otherwise float64_goldens.py evaluates the graph in float64 and
`bnrun verify --peer MODEL DIR/float64` sets PyTorch's golden, bnrun and
ONNX Runtime against it: "rounding" when bnrun is no farther from it than
PyTorch or ONNX Runtime (the model's own float32 rounding), else a failure
(with bnrun's float64 error under --no-winograd beside it). Results go to
OUT/<model>/<flavour>/op<N>/result.json; a rerun with the same bnrun binary
skips every folder that has one (--keep-passes: any pass), and an export
that is complete is never redone. --descending takes the largest models
first, so that a second process can work from that end. After its checks a model.onnx over
--keep-mb is deleted (its result.json stays), to keep the disk use of the
biggest models' 18 exports down; a rerun with a new bnrun re-exports those.

At the end the table is written to --doc (default docs/matrix.md next to
models/) and a summary printed. Use Debian's interpreter: /usr/bin/python3
(torch 1.13, torchvision 0.14, onnx 1.12).
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import torch  # noqa: E402
import onnx  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402
import numpy as np  # noqa: E402

import export  # noqa: E402
import goldens  # noqa: E402

# IR version that goes with each opset (ONNX's versioning table).
IR = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
EXPORTED = range(13, 18)
UPGRADED = range(18, 22)
# reductions whose axes move from attribute to input at opset 18
# (ReduceSum did so at 13)
REDUCE18 = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
            "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
# constructor arguments: auxiliary heads run only in training mode
CTOR_KWARGS = {"googlenet": {"aux_logits": False}, "inception_v3": {"aux_logits": False}}
SIZES = (64, 75, 96, 128, 224)
ORT_NODE = "/root/.cache/bnrun-peer/node_modules/onnxruntime-node"


def log(*a):
    print(*a, flush=True)


def enumerate_models(out, max_params_mb):
    """[(name, kind, n_bn, params)] for every classification and segmentation
    model, cached in OUT/models.json."""
    cache = os.path.join(out, "models.json")
    if os.path.isfile(cache):
        with open(cache) as f:
            return json.load(f)
    import torchvision
    import torchvision.models.segmentation as seg
    rows = []
    for kind, mod in (("classification", torchvision.models), ("segmentation", seg)):
        for name in torchvision.models.list_models(module=mod):
            torch.manual_seed(0)
            t = time.time()
            m = goldens.build(name, **CTOR_KWARGS.get(name, {}))
            n_bn = sum(1 for x in m.modules() if isinstance(x, export.BN_TYPES))
            params = sum(p.numel() for p in m.parameters()) + sum(b.numel() for b in m.buffers())
            rows.append({"name": name, "kind": kind, "bn": n_bn, "params": params})
            log(f"  {name}: {n_bn} BatchNorm, {params / 1e6:.1f} M parameters ({time.time() - t:.1f} s)")
            del m
    os.makedirs(out, exist_ok=True)
    with open(cache, "w") as f:
        json.dump(rows, f, indent=1)
    return rows


def complete(d):
    return all(os.path.isfile(os.path.join(d, f))
               for f in ("model.onnx", "test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb"))


def binary_id(path):
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16] + f"-{st.st_size}"


def read_result(d):
    try:
        with open(os.path.join(d, "result.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_result(d, r):
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, ".result.json.tmp")
    with open(tmp, "w") as f:
        json.dump(r, f, indent=1)
    os.replace(tmp, os.path.join(d, "result.json"))


class Prepared:
    """A model built, calibrated, with its golden set and dummy input, made
    once when some export of it is needed."""

    def __init__(self, name, seed):
        t = time.time()
        kwargs = CTOR_KWARGS.get(name, {})
        torch.manual_seed(seed)
        probe = goldens.build(name, **kwargs).eval()
        # torch.onnx exports an adaptive pooling only where its output
        # size divides its input size (VGG's 7×7 pooling gets 2×2 at 64×64)
        seen = []
        hooks = [mod.register_forward_hook(lambda mod, a, out: seen.append((a[0].shape[-2:], out.shape[-2:])))
                 for mod in probe.modules()
                 if isinstance(mod, (torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveMaxPool2d))]
        self.size = None
        for s in SIZES:
            seen.clear()
            try:
                with torch.no_grad():
                    probe(export.make_pixels([3, s, s], 1, seed))
                bad = [(i, o) for i, o in seen if any(a % b for a, b in zip(i, o))]
                if bad:
                    i, o = bad[0]
                    raise ValueError(f"adaptive pooling to {tuple(o)} from {tuple(i)}, "
                                     "which torch.onnx cannot export")
                self.size = s
                break
            except Exception as e:  # noqa: BLE001 (a too-small input raises anything)
                log(f"  {name}: {s}x{s} refused: {str(e).splitlines()[0][:120]}")
        for h in hooks:
            h.remove()
        del probe
        if self.size is None:
            raise RuntimeError(f"no input size of {SIZES} runs")
        shape = [3, self.size, self.size]
        torch.manual_seed(seed)
        model = goldens.build(name, **kwargs)
        self.model = export.calibrate_bn(model, seed, 2,
                                         lambda i: export.make_pixels(shape, 8, seed + 1000 + i))
        self.sets, self.out_names = goldens.golden_sets(self.model, name, [1], [shape], seed)
        self.dummy = export.make_pixels(shape, 2, seed + 99)
        self.meta = {"bnrun.model": name, "bnrun.seed": str(seed), "bnrun.torch": torch.__version__}
        log(f"  {name}: built and calibrated at {shape} in {time.time() - t:.1f} s")

    def export(self, flavour, opset, d):
        goldens.export_flavour(self.model, flavour, opset, "batch", self.sets, self.dummy,
                               self.out_names, d, self.meta)


def upgrade(src, dst, opset):
    """Writes the opset-17 export in src as an opset-`opset` model in dst with
    the same goldens (hard links); returns a note of what was rewritten."""
    m = onnx.load(os.path.join(src, "model.onnx"))
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = opset
    m.ir_version = IR[opset]
    moved = 0
    if opset >= 18:
        names = {i.name for i in m.graph.initializer} | {n for x in m.graph.node for n in x.output}
        for n in m.graph.node:
            if n.op_type not in REDUCE18:
                continue
            axes = [a for a in n.attribute if a.name == "axes"]
            if not axes:
                continue
            vals = list(axes[0].ints)
            n.attribute.remove(axes[0])
            k = 0
            while f"{n.name or n.output[0]}_axes{k}" in names:
                k += 1
            iname = f"{n.name or n.output[0]}_axes{k}"
            names.add(iname)
            m.graph.initializer.append(numpy_helper.from_array(np.array(vals, np.int64), iname))
            del n.input[1:]
            n.input.append(iname)
            moved += 1
    parent = os.path.dirname(os.path.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    tmp = dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for e in os.listdir(src):
        if e.startswith("test_data_set_"):
            os.makedirs(os.path.join(tmp, e))
            for f in os.listdir(os.path.join(src, e)):
                if f.startswith(("input_", "output_")):
                    os.link(os.path.join(src, e, f), os.path.join(tmp, e, f))
    m.producer_name = "bnrun models/matrix.py (upgraded from opset 17)"
    onnx.save(m, os.path.join(tmp, "model.onnx"))
    shutil.rmtree(dst, ignore_errors=True)
    os.rename(tmp, dst)
    return f"{moved} reduction axes moved to inputs" if moved else ""


def parse_verify(text):
    """(max abs over the outputs, elements out of tolerance, peer max abs) from
    bnrun verify's lines."""
    mx, bad, peer = None, 0, None
    for line in text.splitlines():
        f = line.split()
        if len(f) < 3 or f[0] not in ("ok", "FAIL"):
            continue
        if "max_abs" in f:
            v = float(f[f.index("max_abs") + 1])
            mx = v if mx is None else max(mx, v)
        if "elements" in f:
            i = f.index("of")
            bad += int(f[i - 1])
        if "peer" in f and "max_abs" in f[f.index("peer"):]:
            j = f.index("peer")
            v = float(f[j + 2])
            peer = v if peer is None else max(peer, v)
    return mx, bad, peer


# float64 comparisons made in this run, by (model, flavour, bnrun's and
# ONNX Runtime's max abs error): the opsets of one flavour compute the same
# sums, so equal errors against PyTorch mean equal ones against float64
F64_SEEN = {}


def verify(bnrun, d, use_peer, key=None):
    """Runs bnrun verify on d's model; a result dict."""
    t = time.time()
    p = subprocess.run([bnrun, "verify", os.path.join(d, "model.onnx")], capture_output=True,
                       text=True, timeout=1800)
    out = p.stdout + p.stderr
    mx, bad, _ = parse_verify(out)
    r = {"max_abs": mx, "bad": bad, "verify_s": round(time.time() - t, 1)}
    if p.returncode == 0:
        r["status"] = "pass"
        return r
    if mx is None or "FAIL:" not in out:
        r["status"] = "error"
        r["error"] = next((x for x in out.splitlines() if x.strip()), f"exit {p.returncode}")
        return r
    r["status"] = "fail"
    r["error"] = next((x for x in out.splitlines() if x.startswith("FAIL  ")), "")
    if not use_peer:
        return r
    env = dict(os.environ, ORT_NODE=ORT_NODE, NODE_PATH=os.path.dirname(ORT_NODE))
    q = subprocess.run(["node", os.path.join(REPO, "bench", "ort_outputs.js"), os.path.join(d, "model.onnx")],
                       capture_output=True, text=True, env=env, timeout=1800)
    if q.returncode != 0:
        r["peer_error"] = ((q.stderr or q.stdout).strip().splitlines() or ["?"])[0]
        return r
    p = subprocess.run([bnrun, "verify", "--peer", os.path.join(d, "model.onnx")], capture_output=True,
                       text=True, timeout=1800)
    _, _, peer = parse_verify(p.stdout)
    r["peer_max_abs"] = peer
    m = [x for x in p.stdout.splitlines() if "peer max_abs" in x]
    r["peer_bad"] = sum(int(x.split("peer max_abs")[1].split()[1]) for x in m)
    if p.returncode == 0:
        r["status"] = "peer"
        return r
    # Out of tolerance and further from PyTorch's golden than ONNX Runtime:
    # set the three float32 computations against the graph in float64.
    seen = F64_SEEN.get((key, r["max_abs"], r.get("peer_max_abs")))
    if seen:
        r.update(seen)
        return r
    q = subprocess.run([sys.executable, os.path.join(HERE, "float64_goldens.py"), d], capture_output=True,
                       text=True, timeout=1800)
    line = next((x for x in q.stdout.splitlines() if "PyTorch's golden against float64" in x), "")
    if q.returncode != 0 or not line:
        r["f64_error"] = ((q.stderr or q.stdout).strip().splitlines() or ["?"])[-1]
        return r
    r["f64_torch"] = float(line.split("max_abs ")[1].split(",")[0])
    p = subprocess.run([bnrun, "verify", "--peer", os.path.join(d, "model.onnx"), os.path.join(d, "float64")],
                       capture_output=True, text=True, timeout=1800)
    r["f64_bnrun"], _, r["f64_ort"] = parse_verify(p.stdout)
    if r["f64_bnrun"] is not None and r["f64_bnrun"] <= max(r["f64_torch"], r["f64_ort"] or 0):
        # as close to the exact answer as PyTorch's own golden or ONNX
        # Runtime: the model's float32 rounding
        r["status"] = "rounding"
    else:
        # what the direct 3x3 product (no Winograd) makes of it
        p = subprocess.run([bnrun, "verify", "--no-winograd", "--peer", os.path.join(d, "model.onnx"),
                            os.path.join(d, "float64")], capture_output=True, text=True, timeout=1800)
        r["f64_bnrun_nowino"], _, _ = parse_verify(p.stdout)
    F64_SEEN[(key, r["max_abs"], r.get("peer_max_abs"))] = {
        k: r[k] for k in ("status", "f64_torch", "f64_bnrun", "f64_ort", "f64_bnrun_nowino") if k in r}
    return r


def done(res, bid, args):
    """Whether a folder's result stands: one from this bnrun binary, or
    with --keep-passes any pass."""
    if res is None:
        return False
    return res.get("bnrun") == bid or (args.keep_passes and res["status"] in ("pass", "peer"))


def run_model(row, args, bid, use_peer):
    name = row["name"]
    prep = None
    t0 = time.time()
    for fl in args.flavours:
        base = os.path.join(args.out, name, fl)
        todo = [o for o in args.opsets if not done(read_result(os.path.join(base, f"op{o}")), bid, args)]
        if not todo:
            continue
        # exports first: 13..17 by torch, 18..21 from 17
        need = set(o for o in todo if not complete(os.path.join(base, f"op{o}")))
        if any(o in UPGRADED for o in need):
            need.add(17)
        for o in sorted(need):
            d = os.path.join(base, f"op{o}")
            if complete(d):
                continue
            t = time.time()
            try:
                if o in EXPORTED:
                    if prep is None:
                        prep = Prepared(name, args.seed)
                    prep.export(fl, o, d)
                    note = ""
                else:
                    src = os.path.join(base, "op17")
                    if not complete(src):
                        raise RuntimeError("no opset-17 export to upgrade")
                    note = upgrade(src, d, o)
                log(f"  {name} {fl} op{o}: exported in {time.time() - t:.1f} s"
                    + (f" ({note})" if note else ""))
            except Exception as e:  # noqa: BLE001
                msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                if os.environ.get("MATRIX_TRACE"):
                    traceback.print_exc()
                write_result(d, {"model": name, "flavour": fl, "opset": o, "status": "export-error",
                                 "error": f"export: {msg}", "bnrun": bid})
                log(f"  {name} {fl} op{o}: export failed: {msg}")
        for o in todo:
            d = os.path.join(base, f"op{o}")
            old = read_result(d)
            if old and old.get("bnrun") == bid and old["status"] == "export-error":
                continue  # just recorded
            if not complete(d):
                continue
            r = {"model": name, "flavour": fl, "opset": o, "bnrun": bid}
            try:
                r.update(verify(args.bnrun, d, use_peer, (name, fl)))
            except subprocess.TimeoutExpired:
                r.update(status="error", error="bnrun verify: timed out")
            r["size_mb"] = round(os.path.getsize(os.path.join(d, "model.onnx")) / 1e6, 1)
            write_result(d, r)
            log(f"  {name} {fl} op{o}: {r['status']} max_abs {r.get('max_abs')}"
                + (f" peer {r.get('peer_max_abs')}" if "peer_max_abs" in r else "")
                + (f"  {r['error']}" if r.get("error") and r["status"] != "peer" else ""))
        # big exports are deleted once every opset of the flavour has a result
        if all(done(read_result(os.path.join(base, f"op{o}")), bid, args) for o in args.opsets):
            for o in args.opsets:
                f = os.path.join(base, f"op{o}", "model.onnx")
                res = read_result(os.path.dirname(f))
                if os.path.isfile(f) and os.path.getsize(f) > args.keep_mb * 1e6 and \
                        res["status"] in ("pass", "peer"):
                    os.remove(f)
    if prep is not None:
        log(f"  {name}: {time.time() - t0:.0f} s")


def cell(r):
    if r is None:
        return "not run"
    s, mx = r.get("status"), r.get("max_abs")
    v = f"{mx:.1e}" if mx is not None else ""
    if s == "pass":
        return f"ok {v}"
    if s == "peer":
        return f"ok {v} (ORT {r['peer_max_abs']:.1e})"
    if s == "fail":
        pm = r.get("peer_max_abs")
        return f"**FAIL** {v}" + (f" (ORT {pm:.1e})" if pm is not None else "")
    if s == "rounding":
        return f"tol {v} (ORT {r['peer_max_abs']:.1e})"
    return "**ERROR**" if s == "error" else "**export error**"


def write_doc(path, rows, skipped, results, args):
    opsets = args.opsets
    n_pass = sum(1 for r in results.values() if r and r["status"] in ("pass", "peer"))
    n_peer = sum(1 for r in results.values() if r and r["status"] == "peer")
    n_all = len(rows) * len(args.flavours) * len(opsets)
    n_round = sum(1 for r in results.values() if r and r["status"] == "rounding")
    n_fail = sum(1 for r in results.values() if r and r["status"] not in ("pass", "peer", "rounding"))
    n_run = sum(1 for r in results.values() if r)
    lines = [
        "# The torchvision model matrix (issue 15)",
        "",
        f"Written by `models/matrix.py` on {datetime.date.today().isoformat()} "
        f"(torch {torch.__version__}, onnx {onnx.__version__}). To reproduce:",
        "",
        "    nice -n 19 go build -o /tmp/wtM-bnrun ./cmd/bnrun",
        "    nice -n 19 /usr/bin/python3 models/matrix.py --out /tmp/matrix --bnrun /tmp/wtM-bnrun"
        + (f" \\\n        --models {args.models} --opsets {','.join(str(o) for o in opsets)}"
           f" --doc-subset --doc {os.path.relpath(path, REPO)}" if args.doc_subset and args.models else ""),
        "",
        "Every torchvision 0.14 classification and segmentation model with a BatchNorm module "
        "(enumerated with `torchvision.models.list_models`, random weights, BatchNorm calibrated "
        "as `goldens.py` does), both export flavours (`bn`: BatchNormalization kept; `fused`: "
        "folded by the exporter), exported by torch.onnx at opsets 13 to 17 and upgraded from the "
        "opset-17 export to 18 to 21 (onnx 1.12's converter stops at 17: the opset and IR "
        "version raised, reductions' `axes` moved to an input at 18; the goldens are the "
        "opset-17 ones). One input, batch 1, 3×64×64 (inception_v3 3×75×75; maxvit_t and the "
        "VGGs 3×224×224); "
        "`bnrun verify` at atol = rtol = 1e-4. An output out of that tolerance is checked "
        "against ONNX Runtime's outputs on the same input (`bench/ort_outputs.js`, "
        "`bnrun verify --peer`): \"ok (ORT e)\" is a pass as the peer, ONNX Runtime being at "
        "least as far from PyTorch's golden (e its max abs error). Where ONNX Runtime is closer, "
        "`models/float64_goldens.py` evaluates the same graph in float64 and `bnrun verify --peer "
        "MODEL DIR/float64` sets bnrun and ONNX Runtime against that exact answer: \"tol e (ORT e)\" "
        "marks a model whose bnrun output is no farther from float64 than PyTorch's golden or ONNX "
        "Runtime's output (the numbers are in the table of failures): its model's own float32 "
        "rounding, not a bnrun fault, keeps it out of tolerance. For the others the table of "
        "failures also gives bnrun's error against float64 with `--no-winograd` (3×3 convolutions "
        "computed directly).",
        "",
        f"**{len(rows)} models × {len(args.flavours)} flavours × {len(opsets)} opsets = {n_all}**: "
        f"{n_run} run, {n_pass} pass ({n_peer} of them as close as ONNX Runtime), "
        f"{n_round} out of tolerance by float32 rounding alone (\"tol\", below), {n_fail} fail"
        + (f", {n_all - n_run} not run" if n_all > n_run else "") + ".",
        "",
        "| model | flavour | " + " | ".join(str(o) for o in opsets) + " |",
        "|---|---|" + "---|" * len(opsets),
    ]
    for row in rows:
        for fl in args.flavours:
            lines.append(f"| {row['name']} | {fl} | "
                         + " | ".join(cell(results.get((row["name"], fl, o))) for o in opsets) + " |")
    errs = [r for r in results.values() if r and r["status"] not in ("pass", "peer")]
    if errs:
        def g(r, k):
            v = r.get(k)
            return "" if v is None else f"{v:.2e}"
        lines += ["", "## Out of tolerance and failures", "",
                  "Errors against PyTorch's golden (bnrun, ONNX Runtime: elements out of tolerance in "
                  "brackets) and against the graph in float64 (PyTorch's golden, bnrun, ONNX Runtime).",
                  "",
                  "| model | flavour | opset | status | bnrun | ORT | float64: PyTorch | bnrun | bnrun --no-winograd | ORT | first line |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in errs:
            e = (r.get("error") or r.get("f64_error") or "").replace("|", "\\|")
            if r["status"] in ("fail", "rounding"):
                e = e.split("top1")[0].strip() if r["status"] == "rounding" else e
            lines.append(f"| {r['model']} | {r['flavour']} | {r['opset']} | {r['status']} | "
                         f"{g(r, 'max_abs')} ({r.get('bad', '')}) | {g(r, 'peer_max_abs')} ({r.get('peer_bad', '')}) | "
                         f"{g(r, 'f64_torch')} | {g(r, 'f64_bnrun')} | {g(r, 'f64_bnrun_nowino')} | {g(r, 'f64_ort')} | {e} |")
    lines += ["", "## Skipped", "", "| model | why |", "|---|---|"]
    for name, why in skipped:
        lines.append(f"| {name} | {why} |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def opset_list(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += range(int(a), int(b) + 1)
        elif part.strip():
            out.append(int(part))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/matrix")
    ap.add_argument("--bnrun", default="/tmp/wtM-bnrun", help="a bnrun binary")
    ap.add_argument("--models", help="comma-separated names (default: every model with BatchNorm)")
    ap.add_argument("--opsets", type=opset_list, default=list(range(13, 22)))
    ap.add_argument("--flavours", type=lambda s: s.split(","), default=["bn", "fused"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-mb", type=float, default=50, help="model.onnx files over this are "
                    "deleted once checked (default 50)")
    ap.add_argument("--max-params-mb", type=float, default=1900,
                    help="skip models whose float32 parameters exceed this (a protobuf holds 2 GB)")
    ap.add_argument("--no-peer", action="store_true", help="do not run ONNX Runtime on failures")
    ap.add_argument("--keep-passes", action="store_true",
                    help="keep the passes another bnrun binary recorded; check the rest again")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "matrix.md"))
    ap.add_argument("--descending", action="store_true",
                    help="largest models first (a second process can start from that end)")
    ap.add_argument("--doc-only", action="store_true", help="rewrite --doc from the results there")
    ap.add_argument("--doc-subset", action="store_true",
                    help="write only the --models rows and the run's opsets to --doc (a partial run's table)")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.bnrun):
        ap.error(f"{args.bnrun}: no such binary (go build -o {args.bnrun} ./cmd/bnrun)")
    use_peer = not args.no_peer and os.path.isdir(ORT_NODE) and shutil.which("node")
    bid = binary_id(args.bnrun)

    log("models:")
    allrows = enumerate_models(args.out, args.max_params_mb)
    rows, skipped = [], []
    for r in allrows:
        if r["bn"] == 0:
            skipped.append((r["name"], "no BatchNorm module"))
        elif r["params"] * 4 > args.max_params_mb * 1e6:
            skipped.append((r["name"], f"{r['params'] / 1e6:.0f} M parameters: "
                            f"{r['params'] * 4 / 1e9:.2f} GB of float32, past a protobuf's 2 GB"))
        else:
            rows.append(r)
    rows.sort(key=lambda r: r["params"])
    for name, why in skipped:
        log(f"skipped {name}: {why}")
    chosen = rows
    if args.models:
        want = args.models.split(",")
        known = {r["name"] for r in allrows}
        for w in want:
            if w not in known:
                ap.error(f"{w}: not a torchvision classification or segmentation model")
        chosen = [r for r in rows if r["name"] in want]
    if args.descending:
        chosen = chosen[::-1]
    if not args.doc_only:
        for r in chosen:
            log(f"{r['name']} ({r['params'] / 1e6:.1f} M parameters, {r['bn']} BatchNorm):")
            try:
                run_model(r, args, bid, use_peer)
            except Exception as e:  # noqa: BLE001
                log(f"  {r['name']}: {type(e).__name__}: {e}")
                if os.environ.get("MATRIX_TRACE"):
                    traceback.print_exc()
    results = {}
    for r in rows:
        for fl in args.flavours:
            for o in args.opsets:
                res = read_result(os.path.join(args.out, r["name"], fl, f"op{o}"))
                results[(r["name"], fl, o)] = res
    counts = {}
    for res in results.values():
        k = res["status"] if res else "not run"
        counts[k] = counts.get(k, 0) + 1
    log(f"summary: {len(rows)} models x {len(args.flavours)} flavours x {len(args.opsets)} opsets: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for res in results.values():
        if res and res["status"] not in ("pass", "peer"):
            f64 = f" float64: torch {res.get('f64_torch')} bnrun {res.get('f64_bnrun')} ORT {res.get('f64_ort')}" \
                if "f64_bnrun" in res else ""
            log(f"  {res['model']} {res['flavour']} op{res['opset']}: {res['status']} "
                f"max_abs {res.get('max_abs')} ORT {res.get('peer_max_abs')}{f64} {res.get('error', '')[:100]}")
    if args.doc_subset and args.models:
        rows = chosen
        results = {k: v for k, v in results.items() if k[0] in {r["name"] for r in chosen}}
    write_doc(args.doc, rows, skipped, results, args)
    log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
