#!/usr/bin/env bash
# Times bnrun and ONNX Runtime (CPU, see ../shared/peer/README.md) on the same
# models in the same run, alternating the two programs round by round, and
# prints the median of each and the ratio bnrun / ORT per case.
#
#   bench/compare_ort.sh [MODELDIR] [ROUNDS] [ITERS]
#
# MODELDIR holds <arch>_bn_op17/model.onnx as models/gen.sh writes them
# (default build/models); ARCHS and THREADS override the cases
# (default: resnet18 resnet50 densenet121 mobilenet_v2; 1 2), VARIANT the
# directory suffix (default bn_op17), BATCH the batch size (default 1),
# STAT=min the fastest round of each program instead of the median one.
# Each model's rounds time every thread count in turn, and it ends with
# the speed-up from the first thread count to each other one, taken
# within each round (see speedups below).
# On a host whose vCPUs run at different speeds (one sharing its core's
# caches with a busy neighbour: one-thread times 1.1-1.4 times apart), a
# one-thread run's time depends on which vCPU the scheduler gives it, and
# bnrun's and ORT's landed on different ones. So one-thread runs of both
# programs are pinned (taskset) to one vCPU: PIN1 names it, PIN1=none
# leaves them unpinned, and by default it is the fastest for bnrun, taken
# for each model before its rounds (every vCPU's time printed). Speed-ups
# are then from the fastest vCPU alone to both.
# JSON=FILE also writes the results there for programs: the machine line,
# and per model and thread count every round's time of each program, the
# statistic taken, the ratio and the speed-ups with their per-round values.
# PROFILE=1 then sets each model's per-node profile on one thread beside
# ONNX Runtime's (bench/ort_nodes.js, bench/profile_join.py): every layer,
# matched in order, with both times, the other ops per type, and the
# largest differences.
# The other family members:
#
#   for a in resnext50_32x4d mnasnet1_0 ...; do
#     /usr/bin/python3 models/export.py --arch $a --flavour fused --opset 13 --out build/family/${a}_fused_op13
#   done
#   ARCHS="resnext50_32x4d mnasnet1_0 ..." VARIANT=fused_op13 bench/compare_ort.sh build/family
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/models}
rounds=${2:-3}
iters=${3:-10}
archs=(${ARCHS:-resnet18 resnet50 densenet121 mobilenet_v2})
variant=${VARIANT:-bn_op17}
batch=${BATCH:-1}
threads=(${THREADS:-1 2})
peer=../shared/peer
ORT_NODE=${ORT_NODE:-$(bash "$peer/setup.sh")}
export ORT_NODE
go build -o build/bnrun ./cmd/bnrun

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
minimum() { sort -n | head -1; }
# STAT=min takes each program's fastest round (each round's own median)
# instead of the median round: on a shared machine whose load changes
# within minutes, the least disturbed round of each.
stat=median
if [[ ${STAT:-median} == min ]]; then
  stat=minimum
fi

# The machine's two-core speed-up (kern's BenchmarkTwoCores: a compute
# loop on one goroutine and on two): about 2 where two threads get two
# cores, about 1 where they share one (a VM's vCPUs on one core's
# hardware threads), which a two-thread ratio depends on. Before and after.
twocores() { go test -run XXX -bench BenchmarkTwoCores -benchtime 3x ./kern/ 2>/dev/null | awk '/speedup/ {print $(NF-1)}'; }
# And the time a cache line takes to go from one thread's core to the
# other's and back (runtime's BenchmarkLineRoundTrip): on a VM whose host
# moves its vCPUs between one die and two, about 120 ns on one and 450-500
# on two, where two-thread times run 10-20 % longer.
roundtrip() { go test -run XXX -bench BenchmarkLineRoundTrip -benchtime 3x ./runtime/ 2>/dev/null | awk '/ns\/trip/ {print $(NF-1)}'; }
echo "two-core speed-up of the machine: $(twocores), cache-line round trip: $(roundtrip) ns"
# vcpus prints a model's one-thread time (ms, bnrun's fastest of iters)
# on each vCPU, "cpu ms" a line.
vcpus() {
  local c
  for ((c = 0; c < $(nproc); c++)); do
    echo "$c $(taskset -c "$c" build/bnrun bench "$1" --threads 1 --iters "$iters" --batch "$batch" --json | awk -F': ' '/"min_ms"/ {gsub(",", "", $2); print $2}')"
  done
}
# pickpin sets pin for a model ($1, file $2): PIN1, or the vCPU vcpus
# finds fastest for it (every vCPU's time printed and kept in speeds), or
# none. The vCPUs' speeds change within minutes and differ by model, so
# each model takes its own.
pin=none
speeds=""
pickpin() {
  pin=${PIN1:-none}
  speeds=""
  if [[ -z ${PIN1:-} ]] && command -v taskset > /dev/null && (($(nproc) > 1)); then
    speeds=$(vcpus "$2")
    pin=$(echo "$speeds" | sort -k2 -n | head -1 | cut -d' ' -f1)
    echo "$1: one-thread time on each vCPU (ms): $(echo "$speeds" | awk '{printf "%s%s: %s", (NR > 1 ? ", " : ""), $1, $2}'); one-thread runs pinned to vCPU $pin"
  fi
}
# on1 runs a command pinned to vCPU $pin when it runs one thread ($1).
on1() {
  local t=$1
  shift
  if [[ $t == 1 && -n $pin && $pin != none ]]; then
    taskset -c "$pin" "$@"
  else
    "$@"
  fi
}
printf '%-16s %7s %12s %12s %8s\n' model threads bnrun_ms ort_ms ratio
# JSON: the rounds, a line per model and thread count ("arch threads
# bnrun-times ort-times pin speeds", times comma-separated, speeds
# "cpu:ms:..."), turned into JSON at the end
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
# Each round times every thread count, bnrun then ONNX Runtime, so that a
# round's one- and two-thread times are seconds apart: the speed-ups
# below are each round's own (its first thread count's median over the
# others'), of which the median round's is printed with their range. On
# a host whose speed moves by 10-30 % within minutes, speed-ups taken
# from rounds minutes apart are mostly that drift.
speedups() { # values of thread count 0 then of count i, one a line each half
  awk -v n="$1" '{v[NR] = $1} END {for (r = 1; r <= n; r++) print v[r] / v[n + r]}'
}
for arch in "${archs[@]}"; do
  model=$dir/${arch}_${variant}/model.onnx
  pickpin "$arch" "$model"
  declare -A b=() o=()
  for ((r = 0; r < rounds; r++)); do
    for t in "${threads[@]}"; do
      b[$t]+=" $(on1 "$t" build/bnrun bench "$model" --threads "$t" --iters "$iters" --batch "$batch" --json | awk -F': ' '/"p50_ms"/ {gsub(",", "", $2); print $2}')"
      o[$t]+=" $(on1 "$t" node "$peer/ort_bench.js" "$model" "$t" "$iters" "$batch" | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')"
    done
  done
  for t in "${threads[@]}"; do
    bm=$(printf '%s\n' ${b[$t]} | $stat)
    om=$(printf '%s\n' ${o[$t]} | $stat)
    printf '%-16s %7s %12.2f %12.2f %8.2f\n' "$arch" "$t" "$bm" "$om" "$(awk -v b="$bm" -v o="$om" 'BEGIN {print b / o}')"
    echo "$arch $t $(echo ${b[$t]} | tr ' ' ,) $(echo ${o[$t]} | tr ' ' ,) $pin $(echo $speeds | tr ' ' :)" >> "$rows"
  done
  t0=${threads[0]}
  for t in "${threads[@]:1}"; do
    bs=$(printf '%s\n' ${b[$t0]} ${b[$t]} | speedups "$rounds" | sort -n)
    os=$(printf '%s\n' ${o[$t0]} ${o[$t]} | speedups "$rounds" | sort -n)
    printf '%-16s speed-up %s -> %s threads, per round: bnrun %.2f (%.2f-%.2f), ORT %.2f (%.2f-%.2f)\n' "$arch" "$t0" "$t" \
      "$(echo "$bs" | median)" "$(echo "$bs" | head -1)" "$(echo "$bs" | tail -1)" \
      "$(echo "$os" | median)" "$(echo "$os" | head -1)" "$(echo "$os" | tail -1)"
  done
  unset b o
done

if [[ ${PROFILE:-0} == 1 ]]; then
  mkdir -p build/profiles
  for arch in "${archs[@]}"; do
    model=$dir/${arch}_${variant}/model.onnx
    out=build/profiles/${arch}_${variant}_b${batch}
    on1 1 build/bnrun bench "$model" --threads 1 --iters "$iters" --batch "$batch" --profile --json > "$out.bnrun.json"
    on1 1 node bench/ort_nodes.js "$model" 1 "$iters" "$batch" > "$out.ort.tsv"
    printf '\n== %s, batch %s, one thread\n' "$arch" "$batch"
    python3 bench/profile_join.py "$out.bnrun.json" "$out.ort.tsv"
  done
fi
two=$(twocores)
trip=$(roundtrip)
echo "two-core speed-up of the machine: $two, cache-line round trip: $trip ns"
if [[ -n ${JSON:-} ]]; then
  python3 - "$rows" "$JSON" "${STAT:-median}" "$batch" "$iters" "$variant" "$two" "$trip" <<'PY'
import json, statistics, sys
rows, out, stat, batch, iters, variant, two, trip = sys.argv[1:9]
take = min if stat == "min" else statistics.median_low
num = lambda v: float(v) if v else None
cases, by = [], {}
for line in open(rows):
    f = line.split()
    arch, t, b, o, pin = f[:5]
    b, o = [float(v) for v in b.split(",")], [float(v) for v in o.split(",")]
    # the model's one-thread time on each vCPU: "cpu:ms:cpu:ms..." (or none)
    sp = f[5].split(":") if len(f) > 5 else []
    c = {"model": arch, "threads": int(t), "bnrun_ms": take(b), "ort_ms": take(o),
         "ratio": take(b) / take(o), "bnrun_rounds_ms": b, "ort_rounds_ms": o,
         "one_thread_vcpu": pin, "vcpu_one_thread_ms": {sp[i]: float(sp[i + 1]) for i in range(0, len(sp) - 1, 2)}}
    cases.append(c)
    by.setdefault(arch, []).append(c)
for arch, cs in by.items():
    first = cs[0]
    for c in cs[1:]:
        for who in ("bnrun", "ort"):
            per = [a / b for a, b in zip(first[who + "_rounds_ms"], c[who + "_rounds_ms"])]
            c[who + "_speedup_rounds"] = per
            c[who + "_speedup"] = statistics.median(per)
        c["speedup_from_threads"] = first["threads"]
json.dump({"stat": stat, "batch": int(batch), "iters": int(iters), "variant": variant,
           "machine_two_core_speedup": num(two), "round_trip_ns": num(trip),
           "cases": cases}, open(out, "w"), indent=1)
PY
  echo "results written to $JSON"
fi
