#!/usr/bin/env bash
# Times two bnrun binaries against each other on the same models in paired
# rounds (A B B A, each binary's fastest Run of the round), and reads how
# the host has placed the two vCPUs before and after each round: behind
# one shared cache or two (the round trip of a cache line between two
# threads, runtime's BenchmarkLineRoundTrip; above 200 ns counts as two).
# A host that moves the vCPUs between the two every few minutes changes
# two-thread times by 1.1-1.8 times, so a round whose state changed is set
# aside, and the ratios B / A are summed up per state.
#
#   bench/ab_pair.sh BIN_A BIN_B THREADS BATCH ROUNDS ITERS MODEL...
#
# One-thread runs are pinned to vCPU 0 (taskset). Each round prints the
# round trip before and after it, both binaries' times (ms) and B / A;
# each model ends with the per-state lists of B / A.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 7 ] || { sed -n '2,16p' "$0"; exit 2; }
a=$1 b=$2 th=$3 batch=$4 rounds=$5 iters=$6
shift 6
rt=$(mktemp)
trap 'rm -f "$rt"' EXIT
go test -c -o "$rt" ./runtime
trip() { "$rt" -test.run XXX -test.bench LineRoundTrip -test.benchtime 10x | grep -o '[0-9.]* ns/trip' | cut -d' ' -f1; }
one() {
	local pin=()
	[ "$th" = 1 ] && pin=(taskset -c 0)
	"${pin[@]}" "$1" bench "$2" --threads "$th" --batch "$batch" --iters "$iters" | grep -o 'min [0-9.]* ms' | cut -d' ' -f2
}
state() { awk -v t="$1" 'BEGIN { print (t > 200) ? 2 : 1 }'; }
for m in "$@"; do
	one=() two=()
	for r in $(seq "$rounds"); do
		t0=$(trip)
		xa=$(one "$a" "$m") yb=$(one "$b" "$m") yb2=$(one "$b" "$m") xa2=$(one "$a" "$m")
		t1=$(trip)
		x=$(awk -v p="$xa" -v q="$xa2" 'BEGIN { print (p < q) ? p : q }')
		y=$(awk -v p="$yb" -v q="$yb2" 'BEGIN { print (p < q) ? p : q }')
		ratio=$(awk -v p="$x" -v q="$y" 'BEGIN { printf "%.3f", q / p }')
		s0=$(state "$t0") s1=$(state "$t1")
		st=mixed
		[ "$s0" = "$s1" ] && st=$s0
		echo "$m round $r: round trip $t0 / $t1 ns (caches: $st) A $x ms, B $y ms, B/A $ratio"
		case $st in
		1) one+=("$ratio") ;;
		2) two+=("$ratio") ;;
		esac
	done
	echo "$m B/A behind one cache: ${one[*]:-none}; behind two: ${two[*]:-none}"
done
