#!/usr/bin/python3
"""Draw the small synthetic test images shipped in testdata/images/ (numpy + PIL).

    make_images.py OUTDIR       # writes OUTDIR/sample28.png, OUTDIR/sample_rgb.jpg

sample28.png    28x28 8-bit grayscale: a Fashion-MNIST-like T-shirt, bright on black.
sample_rgb.jpg  300x200 (WxH) RGB JPEG: sky gradient, sun, hills, a red house.
progressive.jpg 60x40 progressive JPEG of the scene (libjpeg's 10 scans).
alpha/          images with transparency (RGBA, LA, palette with tRNS) and
                what PIL's convert("RGB") and convert("L") make of them, as
                raw 8-bit pixels (NAME.rgb: H*W*3 bytes, NAME.l: H*W bytes).
"""

import os
import sys

import numpy as np
from PIL import Image


def tshirt28():
    h = w = 28
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    body = (x >= 8) & (x <= 19) & (y >= 5) & (y <= 25)
    # sleeves: slanted bands out from the shoulders
    left = (y >= 5) & (y <= 12) & (x >= 2) & (x < 8) & (y - 5 >= (8 - x) * 0.6)
    right = (y >= 5) & (y <= 12) & (x > 19) & (x <= 25) & (y - 5 >= (x - 19) * 0.6)
    neck = ((x - 13.5) ** 2 / 9 + (y - 4.5) ** 2 / 4) <= 1
    mask = (body | left | right) & ~neck
    rng = np.random.default_rng(28)
    img = np.where(mask, 170 + 40 * np.cos(x / 3) + 20 * np.sin(y / 2), 0.0)
    img = np.where(mask, img + rng.normal(0, 10, img.shape), 0.0)
    # a printed stripe across the chest
    img[(y >= 13) & (y <= 14) & body] = 90
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="L")


def scene_rgb(w=300, h=200):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    t = y / h
    img[..., 0] = 90 + 100 * t
    img[..., 1] = 150 + 70 * t
    img[..., 2] = 235 - 20 * t
    sun = (x - 240) ** 2 + (y - 45) ** 2 <= 22 ** 2
    img[sun] = (255, 220, 60)
    hill = y >= 140 + 18 * np.sin(x / 35.0) + 8 * np.cos(x / 13.0)
    img[hill] = np.stack([40 + 0 * x, 140 - 0.2 * (y - 140), 50 + 0 * x], -1)[hill]
    wall = (x >= 70) & (x <= 130) & (y >= 110) & (y <= 160)
    img[wall] = (200, 60, 50)
    roof = (y >= 80) & (y < 110) & (np.abs(x - 100) <= (y - 80) * 1.2)
    img[roof] = (110, 40, 30)
    door = (x >= 92) & (x <= 108) & (y >= 132) & (y <= 160)
    img[door] = (90, 60, 30)
    win = (x >= 76) & (x <= 88) & (y >= 118) & (y <= 130)
    img[win] = (180, 220, 255)
    rng = np.random.default_rng(300)
    img += rng.normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB")


def alpha_images():
    """Half-transparent images whose colours differ from what premultiplying
    by alpha would give: alpha runs 0..255 across, colours vary down."""
    h, w = 30, 40
    y, x = np.mgrid[0:h, 0:w]
    a = (x * 255 // (w - 1)).astype(np.uint8)
    r = (50 + 6 * y).astype(np.uint8)
    g = (200 - 5 * y + x).astype(np.uint8)
    b = (30 + 4 * x).astype(np.uint8)
    rgba = Image.fromarray(np.stack([r, g, b, a], -1), mode="RGBA")
    la = Image.fromarray(np.stack([g, a], -1), mode="LA")
    # a palette image with a transparent entry, as GIF-like PNGs have
    pal = rgba.convert("RGB").quantize(colors=16)
    pal.info["transparency"] = 3
    return {"rgba": rgba, "la": la, "p_trns": pal}


def main(argv):
    out = argv[0] if argv else os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "images"))
    os.makedirs(out, exist_ok=True)
    tshirt28().save(os.path.join(out, "sample28.png"), optimize=False)
    scene_rgb().save(os.path.join(out, "sample_rgb.jpg"), quality=90)
    scene_rgb().resize((60, 40), Image.BILINEAR).save(
        os.path.join(out, "progressive.jpg"), quality=90, progressive=True)
    adir = os.path.join(out, "alpha")
    os.makedirs(adir, exist_ok=True)
    for name, im in alpha_images().items():
        p = os.path.join(adir, name + ".png")
        im.save(p, optimize=False)
        back = Image.open(p)  # as PIL users open it
        with open(os.path.join(adir, name + ".rgb"), "wb") as f:
            f.write(back.convert("RGB").tobytes())
        with open(os.path.join(adir, name + ".l"), "wb") as f:
            f.write(back.convert("L").tobytes())
    for f in ("sample28.png", "sample_rgb.jpg", "progressive.jpg", "alpha/rgba.png", "alpha/la.png", "alpha/p_trns.png"):
        p = os.path.join(out, f)
        im = Image.open(p)
        print(f"{p}: {im.format} {im.mode} {im.size} {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
