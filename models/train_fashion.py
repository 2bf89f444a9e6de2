#!/usr/bin/python3
"""Train three small BatchNorm CNNs on Fashion-MNIST (CPU, fixed seeds) and
export them to ONNX with BatchNormalization kept, plus goldens made from real
test images and PyTorch's predictions on the whole test set.

    train_fashion.py                          # all three, full run -> models/fashion/
    train_fashion.py --model fashion_resnet   # one of them (repeatable)
    train_fashion.py --quick                  # smoke test: 1 tiny epoch -> models/out/fashion_quick/
    train_fashion.py --export-only            # re-export from the checkpoints in models/out/fashion/

For each model NAME it writes OUT/NAME/:

    model.onnx                  opset 13, BN kept, input `input` [batch,1,28,28]
                                (pixels in [0,1]), output `logits` [batch,10]
    test_data_set_0/            batch 1: test image 0 (= 9_ankle_boot.png)
    test_data_set_1/            batch 8: the first test image of classes 0..7
                                (= 0_tshirt.png .. 7_sneaker.png)
    predictions.txt             PyTorch argmax class of each of the 10,000 test
                                images, one per line, in test-set order

and the ten PNGs (first test image of each class) into IMAGES/ (default
testdata/images/fashion/). Checkpoints (state_dicts) and a per-epoch log go to
models/out/fashion/ (git-ignored), so --export-only can redo the export.

Data: /usr/share/datasets/fashion-mnist/*.gz (IDX), read with gzip + numpy.
Use Debian's interpreter: /usr/bin/python3 (torch 1.13, onnx 1.12).
"""

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep models/__pycache__ out of the work tree

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import nets  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
IMAGE_NAMES = ["0_tshirt", "1_trouser", "2_pullover", "3_dress", "4_coat",
               "5_sandal", "6_shirt", "7_sneaker", "8_bag", "9_ankle_boot"]
OPSET = 13
SEED = 0
# One intra-op thread for training: on the shared 2-core box, 2 OpenMP threads
# were up to 7x slower than 1 whenever anything else was running (the
# threads spin-wait for each other), and a fixed thread count also keeps the
# float reduction order, hence the trained weights, reproducible.
TRAIN_THREADS = 1
BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

# Per-model recipe. All use SGD (momentum 0.9, Nesterov, weight decay 5e-4)
# with a one-cycle LR schedule (max lr `lr`), cross-entropy, and random
# horizontal flips (p=0.5) as the only augmentation. The conv nets train in
# channels_last memory format (2x faster on this CPU; export is from the
# contiguous model). Epochs/widths are chosen so that each model trains in
# about 4-7 minutes on one core of the shared 2-core box.
CONFIGS = {
    "fashion_lenet": dict(kwargs={}, epochs=15, batch=256, lr=0.2, wd=5e-4, flip=True,
                          channels_last=False),
    "fashion_resnet": dict(kwargs=dict(width=16, blocks=(1, 1, 1)),
                           epochs=6, batch=128, lr=0.1, wd=5e-4, flip=True, channels_last=True),
    "fashion_densenet": dict(kwargs=dict(growth=12, layers=(4, 4, 4), bn_size=4, stem_pool=True),
                             epochs=5, batch=128, lr=0.1, wd=5e-4, flip=True, channels_last=True),
}
QUICK = dict(epochs=1, train_subset=2048)


# --------------------------------------------------------------------------- data

def read_idx(path):
    """IDX file (optionally gzipped) -> numpy array (uint8 data only)."""
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        b = f.read()
    if b[0] != 0 or b[1] != 0 or b[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {b[:4].hex()})")
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    data = np.frombuffer(b, np.uint8, offset=4 + 4 * nd)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes for dims {dims}")
    return data.reshape(dims)


def load_split(split):
    """split 'train' or 't10k' -> (uint8 images [N,28,28], int64 labels [N])."""
    x = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    assert x.shape[1:] == (28, 28) and len(x) == len(y)
    return x, y


def to_input(u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1] (what the models take)."""
    return torch.from_numpy(np.array(u8, dtype=np.uint8, copy=True)).float().div_(255.0).unsqueeze(1)


def first_of_each_class(labels):
    return [int(np.flatnonzero(labels == c)[0]) for c in range(10)]


# --------------------------------------------------------------------------- train

def train(name, cfg, xtr, ytr, xte, yte, log, threads=TRAIN_THREADS):
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    model = nets.FASHION_ARCHS[name](**cfg["kwargs"])
    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    model = model.to(memory_format=fmt)
    n = len(xtr)
    b = cfg["batch"]
    steps = (n + b - 1) // b
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, nesterov=True,
                          weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"],
                                                total_steps=cfg["epochs"] * steps)
    # One generator drives the data order and the flips: deterministic.
    g = torch.Generator().manual_seed(SEED)
    t0 = time.time()
    for ep in range(cfg["epochs"]):
        model.train()
        perm = torch.randperm(n, generator=g)
        flips = torch.rand(n, generator=g) < 0.5
        tot_loss, tot_ok = 0.0, 0
        for i in range(steps):
            idx = perm[i * b:(i + 1) * b]
            x, y = xtr[idx], ytr[idx]
            if cfg["flip"]:
                f = flips[i * b:(i + 1) * b]
                x = torch.where(f.view(-1, 1, 1, 1), x.flip(3), x)
            x = x.contiguous(memory_format=fmt)
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(idx)
            tot_ok += int((out.argmax(1) == y).sum())
        acc = evaluate(model, xte, yte, threads=threads)[1]
        log(f"{name} epoch {ep + 1}/{cfg['epochs']}: loss {tot_loss / n:.4f} "
            f"train acc {tot_ok / n:.4f} test acc {acc:.4f} ({time.time() - t0:.0f}s)")
    train_s = time.time() - t0
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, train_s


@torch.no_grad()
def evaluate(model, x, y, threads=1, batch=500):
    """Eval-mode argmax predictions in batches of `batch`; returns (preds, acc)."""
    was_training = model.training
    torch.set_num_threads(threads)
    model.eval()
    preds = torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    model.train(was_training)
    acc = float((preds == y).float().mean())
    return preds.numpy(), acc


# --------------------------------------------------------------------------- export

def num_params(model):
    return sum(p.numel() for p in model.parameters())


def export(name, model, out_dir, xte_u8, yte, te_index, test_acc, train_s, cfg, verify):
    """Write OUT/name/ (model.onnx, goldens, predictions.txt) through a temp
    sibling folder that is renamed into place once everything checks out."""
    assert not model.training
    torch.set_num_threads(1)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".", dir=parent)
    try:
        path = os.path.join(tmp, "model.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, to_input(xte_u8[:2]), path,
                input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=OPSET,
                training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        m = onnx.load(path)
        n_bn = sum(1 for mod in model.modules() if isinstance(mod, BN_TYPES))
        bn_nodes = [nd for nd in m.graph.node if nd.op_type == "BatchNormalization"]
        if len(bn_nodes) != n_bn or any(len(nd.output) != 1 for nd in bn_nodes):
            raise RuntimeError(f"{name}: {len(bn_nodes)} BatchNormalization nodes "
                               f"(expected {n_bn}, inference form)")
        meta = {
            "labels": json.dumps(CLASSES),
            "dataset": "fashion-mnist",
            "test_accuracy": f"{test_acc:.4f}",
            "bnrun.arch": name,
            "bnrun.seed": str(SEED),
            "bnrun.torch": torch.__version__,
            "bnrun.input": "float32 [N,1,28,28], pixels/255 in [0,1]; normalisation is in the graph",
        }
        del m.metadata_props[:]
        for k, v in meta.items():
            m.metadata_props.add(key=k, value=v)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)
        assert [i.name for i in m.graph.input] == ["input"], [i.name for i in m.graph.input]
        assert [o.name for o in m.graph.output] == ["logits"]

        # Goldens from real test images, eval mode, 1 thread.
        sets = [[te_index[9]], te_index[:8]]  # 9_ankle_boot (= test image 0); classes 0..7
        with torch.no_grad():
            for i, idx in enumerate(sets):
                x = to_input(xte_u8[idx])
                y = model(x)
                if not torch.isfinite(y).all():
                    raise RuntimeError(f"{name}: non-finite golden output")
                d = os.path.join(tmp, f"test_data_set_{i}")
                os.makedirs(d)
                with open(os.path.join(d, "input_0.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(x.numpy(), "input").SerializeToString())
                with open(os.path.join(d, "output_0.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(y.numpy(), "logits").SerializeToString())

        preds, acc = evaluate(model, to_input(xte_u8), torch.from_numpy(yte), threads=1)
        with open(os.path.join(tmp, "predictions.txt"), "w") as f:
            f.write("".join(f"{int(p)}\n" for p in preds))
        if f"{acc:.4f}" != f"{test_acc:.4f}":
            raise RuntimeError(f"{name}: accuracy {acc} != {test_acc}")

        if verify:
            err, agree = verify_onnx(m, tmp, xte_u8, preds, verify)
            print(f"{name}: numpy reference of model.onnx: goldens max abs err {err:.3g}, "
                  f"argmax agrees with predictions.txt on {agree}/{verify} test images", flush=True)

        os.chmod(tmp, 0o755)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = os.path.getsize(os.path.join(out_dir, "model.onnx"))
    counts = {}
    for nd in m.graph.node:
        counts[nd.op_type] = counts.get(nd.op_type, 0) + 1
    return dict(name=name, acc=acc, params=num_params(model), size=size,
                nodes=len(m.graph.node), ops=counts, train_s=train_s,
                epochs=cfg["epochs"], kwargs=cfg["kwargs"])


def np_run(model_proto, feeds):
    """Evaluate the graph node by node: Sub/Div/Mul (the input normalisation)
    and Identity here, every other op with npref.py's implementation."""
    import npref
    env = {i.name: numpy_helper.to_array(i) for i in model_proto.graph.initializer}
    env.update(feeds)
    own = {"Sub": np.subtract, "Div": np.divide, "Mul": np.multiply}
    for nd in model_proto.graph.node:
        if nd.op_type in own:
            env[nd.output[0]] = own[nd.op_type](env[nd.input[0]], env[nd.input[1]]).astype(np.float32)
            continue
        if nd.op_type == "Identity":
            env[nd.output[0]] = env[nd.input[0]]
            continue
        one = onnx.ModelProto()
        one.opset_import.extend(model_proto.opset_import)
        one.graph.node.append(nd)
        one.graph.output.extend(onnx.ValueInfoProto(name=o) for o in nd.output[:1])
        env[nd.output[0]] = npref.run(one, {i: env[i] for i in nd.input if i})[0]
    return [env[o.name] for o in model_proto.graph.output]


def verify_onnx(m, d, xte_u8, preds, n_images):
    """Independent numpy evaluation of model.onnx: goldens (rtol 1e-3, atol
    1e-4) and argmax on the first n_images test images."""
    worst = 0.0
    for i in range(2):
        ts = os.path.join(d, f"test_data_set_{i}")
        x = numpy_helper.to_array(onnx.load_tensor(os.path.join(ts, "input_0.pb")))
        y = numpy_helper.to_array(onnx.load_tensor(os.path.join(ts, "output_0.pb")))
        got = np_run(m, {"input": x})[0]
        err = float(np.abs(got - y).max())
        worst = max(worst, err)
        if got.shape != y.shape or not np.allclose(got, y, rtol=1e-3, atol=1e-4):
            raise AssertionError(f"{ts}: numpy reference differs from golden, max abs err {err:g}")
    agree = 0
    for s in range(0, n_images, 500):
        x = to_input(xte_u8[s:min(s + 500, n_images)]).numpy()
        agree += int((np_run(m, {"input": x})[0].argmax(1) == preds[s:s + len(x)]).sum())
    if agree < n_images:
        print(f"WARNING: numpy reference argmax differs on {n_images - agree} images")
    return worst, agree


# --------------------------------------------------------------------------- images

def write_images(images_dir, xte_u8, yte, te_index):
    from PIL import Image
    os.makedirs(images_dir, exist_ok=True)
    rows = []
    for c, idx in enumerate(te_index):
        assert yte[idx] == c
        p = os.path.join(images_dir, IMAGE_NAMES[c] + ".png")
        Image.fromarray(xte_u8[idx], mode="L").save(p, optimize=True)
        back = np.asarray(Image.open(p))
        assert back.dtype == np.uint8 and np.array_equal(back, xte_u8[idx]), p
        rows.append((IMAGE_NAMES[c] + ".png", c, CLASSES[c], idx))
    return rows


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", choices=list(CONFIGS),
                    help="train/export only this model (repeatable; default all three)")
    ap.add_argument("--out", default=None,
                    help="parent of the model folders (default models/fashion, "
                         "or models/out/fashion_quick with --quick)")
    ap.add_argument("--images", default=None,
                    help="where the ten PNGs go (default testdata/images/fashion, "
                         "or OUT/images with --quick)")
    ap.add_argument("--ckpt", default=None,
                    help="checkpoint/log folder (default models/out/fashion[_quick])")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: {QUICK['epochs']} epoch on {QUICK['train_subset']} "
                         "training images, outputs under models/out/fashion_quick/")
    ap.add_argument("--threads", type=int, default=TRAIN_THREADS,
                    help="torch intra-op threads for training (default %(default)s; the "
                         "trained weights depend on it). Export/goldens always use 1.")
    ap.add_argument("--export-only", action="store_true",
                    help="skip training; load CKPT/<name>.pt and export")
    ap.add_argument("--verify", type=int, default=10000, metavar="N",
                    help="run the exported graph with the numpy reference (npref.py) on "
                         "the goldens and the first N test images (default 10000; 0 = off)")
    args = ap.parse_args(argv)

    names = args.model or list(CONFIGS)
    sub = "fashion_quick" if args.quick else "fashion"
    out = args.out or (os.path.join(ROOT, "models", "out", sub) if args.quick
                       else os.path.join(ROOT, "models", "fashion"))
    images = args.images or (os.path.join(out, "images") if args.quick
                             else os.path.join(ROOT, "testdata", "images", "fashion"))
    ckpt = args.ckpt or os.path.join(ROOT, "models", "out", sub)
    os.makedirs(ckpt, exist_ok=True)
    logf = open(os.path.join(ckpt, "train.log"), "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    xtr_u8, ytr = load_split("train")
    xte_u8, yte = load_split("t10k")
    te_index = first_of_each_class(yte)
    rows = write_images(images, xte_u8, yte, te_index)
    log(f"images -> {images}: " + ", ".join(f"{r[0]}=test[{r[3]}]" for r in rows))

    if args.quick:
        xtr_u8, ytr = xtr_u8[:QUICK["train_subset"]], ytr[:QUICK["train_subset"]]
    xtr, ytr_t = to_input(xtr_u8), torch.from_numpy(ytr)
    xte, yte_t = to_input(xte_u8), torch.from_numpy(yte)

    results = []
    for name in names:
        cfg = dict(CONFIGS[name])
        if args.quick:
            cfg["epochs"] = QUICK["epochs"]
        pt = os.path.join(ckpt, name + ".pt")
        if args.export_only:
            torch.manual_seed(SEED)
            model = nets.FASHION_ARCHS[name](**cfg["kwargs"])
            state = torch.load(pt)
            model.load_state_dict(state["model"])
            model.eval()
            train_s = state.get("train_s", float("nan"))
        else:
            log(f"{name}: {cfg} params={num_params(nets.FASHION_ARCHS[name](**cfg['kwargs']))}")
            model, train_s = train(name, cfg, xtr, ytr_t, xte, yte_t, log, args.threads)
            torch.save({"model": model.state_dict(), "cfg": cfg, "train_s": train_s,
                        "threads": args.threads}, pt)
        _, acc = evaluate(model, xte, yte_t, threads=1)
        log(f"{name}: PyTorch test accuracy {acc:.4f} (eval, 1 thread, batches of 500), "
            f"trained in {train_s:.0f}s")
        r = export(name, model, os.path.join(out, name), xte_u8, yte, te_index, acc, train_s,
                   cfg, args.verify)
        log(f"{name}: -> {os.path.join(out, name)} model.onnx {r['size']} bytes, "
            f"{r['params']} params, {r['nodes']} nodes, ops {r['ops']}")
        results.append(r)

    log("summary:")
    for r in results:
        log(f"  {r['name']:17s} acc {r['acc']:.4f}  params {r['params']:6d}  "
            f"onnx {r['size'] / 1e3:.0f} kB  epochs {r['epochs']}  train {r['train_s']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
