#!/usr/bin/env bash
# Write testdata/family: narrow members of the families whose ops the GPU
# needs (nets.py's TinyMobileNetV3, TinyEfficientNet, TinyLRASPP, TinyUNet,
# TinyShuffleNet: torchvision's own blocks at a few channels), each in
# both export flavours with PyTorch goldens at 3x32x32, batches 1 and 2.
# MobileNetV3 at opset 17 (HardSwish nodes), the others at 13 (HardSwish
# written as HardSigmoid and Mul, as in LR-ASPP's backbone).
#
#   models/make_tiny_family.sh [OUTDIR]      (default testdata/family)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../testdata/family}
py=${PYTHON:-/usr/bin/python3}
gen() { # name class opset
    rm -rf "$out/$1"
    "$py" "$here/goldens.py" "nets:$2" --out "$out/$1" --opset "$3" --shape 3,32,32 --batch 1,2
}
gen mobilenet_v3 TinyMobileNetV3 17
gen efficientnet TinyEfficientNet 13
gen lraspp TinyLRASPP 13
gen unet TinyUNet 13
gen shufflenet TinyShuffleNet 13
