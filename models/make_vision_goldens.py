#!/usr/bin/python3
"""Draw the small test images of the vision package and write what
torchvision makes of them, for vision's tests (numpy, PIL, torchvision).

    make_vision_goldens.py [ROOT]    # ROOT: the repository (default: this script's parent)

Images (testdata/images/, each under 20 KB): rgba.png (RGBA, colour kept
under alpha 0), gray.png (L, portrait), jpeg420.jpg and jpeg444.jpg (the
same scene with 4:2:0 and 4:4:4 chroma), exif6.jpg (stored landscape, EXIF
orientation 6: shown portrait), scene.bmp (24-bit), scene.gif (a palette
with a transparent entry), scene.tif (uncompressed), scene.webp (lossless),
tiny.webp and tiny_lossy.webp (11x8 with alpha, lossless and lossy), and orient/N.jpg (N = 1..8: a 12x8 arrow with EXIF orientation N).

Goldens (testdata/vision/): for each case of cases.json, CASE.npy holds the
float32 tensor [C,H,W] that torchvision's transforms make of the image opened
as PIL users open it, Image.open(path).convert("RGB" or "L") (with
ImageOps.exif_transpose first where "exif_transpose" is set):

    rgb      Resize(32) + CenterCrop(28) + ToTensor + Normalize(ImageNet mean, std)
    gray     Resize(32) + CenterCrop(28) + ToTensor
    stretch  Resize((28, 36)) + ToTensor + Normalize(ImageNet)   (the whole image, aspect not kept)
    pad      Resize(20) + CenterCrop(28) + ToTensor              (a crop larger than the image: zeros)
    nocrop   CenterCrop(24) + ToTensor                           (no resize)
    whole    ToTensor                                            (the image as decoded)

Sizes are those of ImageNet's Resize(256) + CenterCrop(224) scaled down to keep
the files small; the resampling (PIL's antialiased bilinear) is the same.
"""

import io
import json
import os
import sys

import numpy as np
from PIL import Image, ImageOps
import torchvision
import torchvision.transforms as T

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def scene(w, h, seed):
    """A small colourful scene with sharp chroma edges: a sky gradient, a sun,
    a red house with a blue window, green hills, some noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = x / w, y / h
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = 90 + 100 * v
    img[..., 1] = 150 + 70 * v
    img[..., 2] = 235 - 20 * v
    img[(u - 0.8) ** 2 + ((v - 0.22) * h / w) ** 2 <= 0.075 ** 2] = (255, 220, 60)
    hill = v >= 0.7 + 0.09 * np.sin(u * 8.5) + 0.04 * np.cos(u * 23)
    img[hill] = np.stack([40 + 0 * x, 140 - 60 * (v - 0.7), 50 + 0 * x], -1)[hill]
    img[(u >= 0.23) & (u <= 0.43) & (v >= 0.55) & (v <= 0.8)] = (200, 60, 50)
    img[(v >= 0.4) & (v < 0.55) & (np.abs(u - 0.33) <= (v - 0.4) * 1.2 * h / w)] = (110, 40, 30)
    img[(u >= 0.25) & (u <= 0.29) & (v >= 0.59) & (v <= 0.65)] = (40, 90, 255)
    img[(u >= 0.31) & (u <= 0.36) & (v >= 0.66) & (v <= 0.8)] = (90, 60, 30)
    img += np.random.default_rng(seed).normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def arrow(w=12, h=8):
    """An asymmetric picture: any flip or rotation changes it."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 2] = 60
    img[h // 2 - 1:h // 2 + 1, 1:w - 3, 0] = 250  # shaft, red
    for i in range(3):
        img[h // 2 - 1 - i:h // 2 + 1 + i, w - 3 - i] = (250, 250, 0)  # head, yellow
    img[0, 0] = (0, 255, 0)  # top-left corner, green
    img[h - 1, 0] = (255, 255, 255)  # bottom-left corner, white
    return img


def exif_bytes(orientation):
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


def make_images(img_dir):
    os.makedirs(os.path.join(img_dir, "orient"), exist_ok=True)
    out = {}

    # RGBA: the scene with alpha running 0..255 across; the colour under
    # alpha 0 is kept, as PIL keeps it.
    rgb = scene(64, 48, 1)
    a = (np.arange(64) * 255 // 63).astype(np.uint8)
    rgba = np.concatenate([rgb, np.broadcast_to(a[None, :, None], (48, 64, 1))], -1)
    out["rgba.png"] = lambda p: Image.fromarray(rgba, "RGBA").save(p, optimize=False)

    g = scene(50, 70, 2).astype(np.float32) @ np.array([0.3, 0.6, 0.1], np.float32)
    out["gray.png"] = lambda p: Image.fromarray(g.astype(np.uint8), "L").save(p, optimize=False)

    s96 = Image.fromarray(scene(96, 64, 3), "RGB")
    out["jpeg420.jpg"] = lambda p: s96.save(p, quality=90, subsampling=2)
    out["jpeg444.jpg"] = lambda p: s96.save(p, quality=90, subsampling=0)
    out["exif6.jpg"] = lambda p: Image.fromarray(scene(64, 48, 4), "RGB").save(
        p, quality=92, subsampling=0, exif=exif_bytes(6))

    s72 = Image.fromarray(scene(72, 40, 5), "RGB")
    out["scene.bmp"] = lambda p: s72.save(p)
    out["scene.tif"] = lambda p: s72.resize((48, 32), Image.BILINEAR).save(p, compression=None)
    out["scene.webp"] = lambda p: s72.save(p, lossless=True)
    # Tiny WebPs with alpha, lossless and lossy (VP8X with an ALPH chunk):
    # decoding tests and fuzzing seeds.
    tiny = Image.fromarray(rgba[::6, ::6].copy(), "RGBA")
    out["tiny.webp"] = lambda p: tiny.save(p, lossless=True)
    out["tiny_lossy.webp"] = lambda p: tiny.save(p, quality=80)

    def gif(p):
        pal = s72.quantize(colors=32, dither=Image.Dither.NONE)
        # Index 3 transparent: PIL's convert("RGB") keeps its palette colour.
        pal.save(p, transparency=3)
    out["scene.gif"] = gif

    for o in range(1, 9):
        out[f"orient/{o}.jpg"] = (lambda o: lambda p: Image.fromarray(arrow(), "RGB").save(
            p, quality=100, subsampling=0, exif=exif_bytes(o)))(o)

    for name, save in out.items():
        p = os.path.join(img_dir, name)
        save(p)
        im = Image.open(p)
        print(f"{name}: {im.format} {im.mode} {im.size} {os.path.getsize(p)} bytes")


TRANSFORMS = {
    "rgb": ("RGB", lambda: T.Compose([T.Resize(32), T.CenterCrop(28), T.ToTensor(), T.Normalize(MEAN, STD)]),
            {"resize": 32, "crop": [28, 28], "mean": MEAN, "std": STD}),
    "gray": ("L", lambda: T.Compose([T.Resize(32), T.CenterCrop(28), T.ToTensor()]),
             {"resize": 32, "crop": [28, 28]}),
    "stretch": ("RGB", lambda: T.Compose([T.Resize((28, 36)), T.ToTensor(), T.Normalize(MEAN, STD)]),
                {"stretch": True, "crop": [28, 36], "mean": MEAN, "std": STD}),
    "pad": ("L", lambda: T.Compose([T.Resize(20), T.CenterCrop(28), T.ToTensor()]),
            {"resize": 20, "crop": [28, 28]}),
    "nocrop": ("RGB", lambda: T.Compose([T.CenterCrop(24), T.ToTensor()]), {"crop": [24, 24]}),
    "whole": ("RGB", lambda: T.ToTensor(), {}),
}

# (image under testdata/images, transforms, EXIF transpose)
CASES = [(im, "rgb", False) for im in [
    "sample_rgb.jpg", "progressive.jpg", "sample28.png", "alpha/rgba.png", "alpha/la.png",
    "alpha/p_trns.png", "rgba.png", "gray.png", "jpeg420.jpg", "jpeg444.jpg", "exif6.jpg",
    "scene.bmp", "scene.gif", "scene.tif", "scene.webp"]] + [(im, "gray", False) for im in [
    "sample28.png", "fashion/9_ankle_boot.png", "alpha/la.png", "alpha/rgba.png", "rgba.png",
    "gray.png", "jpeg420.jpg", "scene.gif", "scene.bmp"]] + [
    ("exif6.jpg", "rgb", True),
    ("rgba.png", "stretch", False),
    ("jpeg444.jpg", "stretch", False),
    ("sample28.png", "pad", False),
    ("scene.bmp", "nocrop", False),
] + [(f"orient/{o}.jpg", "whole", True) for o in range(1, 9)]


def main(argv):
    root = argv[0] if argv else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    img_dir = os.path.join(root, "testdata", "images")
    gold_dir = os.path.join(root, "testdata", "vision")
    os.makedirs(gold_dir, exist_ok=True)
    make_images(img_dir)
    manifest = []
    for image, tname, transpose in CASES:
        mode, make, params = TRANSFORMS[tname]
        im = Image.open(os.path.join(img_dir, image))  # as PIL users open it
        if transpose:
            im = ImageOps.exif_transpose(im)
        x = make()(im.convert(mode)).numpy().astype(np.float32)
        name = image.replace("/", "_").replace(".", "_") + "_" + tname + ("_exif" if transpose else "")
        buf = io.BytesIO()
        np.save(buf, x)
        with open(os.path.join(gold_dir, name + ".npy"), "wb") as f:
            f.write(buf.getvalue())
        case = {"name": name, "image": image, "gray": mode == "L", "exif_transpose": transpose}
        case.update(params)
        manifest.append(case)
        print(f"{name}: {list(x.shape)}")
    with open(os.path.join(gold_dir, "cases.json"), "w") as f:
        f.write(json.dumps({"torchvision": torchvision.__version__, "pil": Image.__version__,
                            "cases": manifest}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
