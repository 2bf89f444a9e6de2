#!/usr/bin/env bash
# Generate every arch x flavour (bn, fused) x opset (9 11 13 14 17) into
# OUTDIR/<arch>_<flavour>_op<N>/ (model.onnx + test_data_set_{0,1}).
#
#   models/gen.sh OUTDIR [arch...]      default archs: the seven below
#
# One python process per arch (export.py --all): the model is built, calibrated
# and run for the goldens once, then exported 10 times. Complete model dirs are
# skipped (an arch whose 10 dirs are all complete does not even start python),
# so reruns are cheap. Env: PYTHON (default /usr/bin/python3), SEED (default 0),
# VERIFY=1 to check every export with the numpy reference (default: only for
# lenet and mlp, where it costs well under a second).
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUTDIR [resnet18|resnet50|densenet121|mobilenet_v2|mobilenet_v3_small|lenet|mlp ...]" >&2
    exit 2
fi
out=$1
shift
archs=("$@")
if [[ ${#archs[@]} -eq 0 ]]; then
    archs=(lenet mlp resnet18 resnet50 densenet121 mobilenet_v2 mobilenet_v3_small)
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-/usr/bin/python3}
seed=${SEED:-0}
flavours=(bn fused)
opsets=(9 11 13 14 17)

complete() { # dir
    local d=$1 i
    [[ -f $d/model.onnx ]] || return 1
    for i in 0 1; do
        [[ -f $d/test_data_set_$i/input_0.pb && -f $d/test_data_set_$i/output_0.pb ]] || return 1
    done
}

mkdir -p "$out"
failed=()
t_all=$SECONDS
for arch in "${archs[@]}"; do
    missing=0
    for fl in "${flavours[@]}"; do
        for op in "${opsets[@]}"; do
            complete "$out/${arch}_${fl}_op${op}" || missing=$((missing + 1))
        done
    done
    if [[ $missing -eq 0 ]]; then
        echo "== $arch: all ${#flavours[@]}x${#opsets[@]} exports complete, skipped"
        continue
    fi
    verify=()
    if [[ ${VERIFY:-} == 1 || $arch == lenet || $arch == mlp ]]; then
        verify=(--verify)
    fi
    echo "== $arch: $missing to export"
    t=$SECONDS
    if ! "$py" "$here/export.py" --arch "$arch" --all --out "$out" --seed "$seed" \
        --skip-existing --keep-going "${verify[@]}"; then
        failed+=("$arch")
    fi
    echo "== $arch: $((SECONDS - t))s"
done
echo "== total: $((SECONDS - t_all))s"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED archs: ${failed[*]}" >&2
    exit 1
fi
