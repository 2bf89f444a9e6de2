package runtime

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// BenchmarkConvOnPool runs small-plane 1×1 convolutions on the fastest
// tier with a real Pool of one and of two workers, each layer reading the
// output of a layer of the same shape before it (the depthwise layer of an
// inverted residual block, here a copy made on the pool), as in a network:
// what the split by input channels (kern's pixSplitK) is for, and what
// two workers gain on a layer whose input the other core wrote. Times
// and GFLOP/s include the copy. Compare workers=1 with workers=2 in one
// run.
func BenchmarkConvOnPool(b *testing.B) {
	k := kern.Best()
	for _, l := range []struct{ c, m, h int }{
		{480, 80, 14},   // MnasNet's projection
		{1152, 192, 7},  // MnasNet's and EfficientNet's 7×7 projection
		{1024, 256, 14}, // ResNet-50's narrowing 1×1
		{320, 320, 14},  // RegNet-Y's square 1×1 (not split)
	} {
		g := kern.ConvGeom{N: 1, C: l.c, H: l.h, W: l.h, M: l.m, KH: 1, KW: 1, OH: l.h, OW: l.h,
			SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		src := kerntest.Rand(1, l.c*l.h*l.h)
		x := make([]float32, len(src))
		w, bias := kerntest.Rand(2, l.m*l.c), kerntest.Rand(3, l.m)
		y := make([]float32, l.m*l.h*l.h)
		packed := k.PackConv(&g, w)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%d-%dx%d²/workers=%d", k.Name, l.c, l.m, l.h, workers), func(b *testing.B) {
				p := NewPool(workers)
				defer p.Close()
				env := &kern.Env{K: k, Par: p, Scratch: make([]float32, workers*k.ConvScratch(&g))}
				f := &kern.ConvFusion{Act: kern.Activation{Kind: kern.ActRelu}}
				cp := &copyTask{dst: x, src: src, plane: l.h * l.h}
				for b.Loop() {
					p.Do(l.c, cp) // x's channels written by the workers, as by a layer before
					env.PackedW = packed
					k.Conv(env, &g, x, w, bias, y, f)
				}
				b.ReportMetric(2*float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// copyTask copies channel planes of plane values from src into dst.
type copyTask struct {
	dst, src []float32
	plane    int
}

// Range copies planes [lo, hi).
func (t *copyTask) Range(lo, hi int) {
	copy(t.dst[lo*t.plane:hi*t.plane], t.src[lo*t.plane:hi*t.plane])
}

// BenchmarkLineRoundTrip passes a counter on one cache line back and forth
// between two goroutines, each on an OS thread of its own, and reports
// the time of one round trip: what a worker pays each time it reads a
// line the other core wrote (a pool's hand-over, a layer reading the part
// of its input the other worker made). On a 2-vCPU Zen 5 VM it is about
// 120 ns when the host puts the two vCPUs on one die (its L3 shared) and
// about 450-500 ns when it puts them on two, which it changes within
// minutes; two-thread times taken in the second state are 10-20 % longer
// for the same binary, so bench/compare_ort.sh prints it beside its table.
func BenchmarkLineRoundTrip(b *testing.B) {
	if goruntime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two threads")
	}
	var line struct {
		_ [cacheLine]byte
		v atomic.Int64
		_ [cacheLine - 8]byte
	}
	const trips = 100000
	done := make(chan struct{})
	for b.Loop() {
		line.v.Store(0)
		go func() {
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			for i := int64(1); i < 2*trips; i += 2 {
				for line.v.Load() != i {
				}
				line.v.Store(i + 1)
			}
			done <- struct{}{}
		}()
		goruntime.LockOSThread()
		for i := int64(0); i < 2*trips; i += 2 {
			for line.v.Load() != i {
			}
			line.v.Store(i + 1)
		}
		goruntime.UnlockOSThread()
		<-done
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*trips), "ns/trip")
}

// BenchmarkLineHandoff measures what a cache line costs a core when
// another core touched it last, on a buffer that fits either core's L2
// (768 KiB): the price two workers pay each time one of them writes what
// the other read, or reads what the other wrote, as the workers of
// consecutive layers do wherever their splits differ. Two goroutines on
// OS threads of their own take turns (the other first, then the timed
// one); ns/line is the timed pass's cost per 64-byte line:
//
//   - own: the core read the buffer itself before writing it;
//   - write-after-other-read: the other core read it (the line is shared
//     by the two, so the write waits for the other's copy to be dropped);
//   - write-after-other-write: the other core wrote it (it holds the only
//     copy);
//   - read-after-other-write: the timed pass reads what the other wrote;
//   - claim-write-own, claim-write-after-other-read: the writes of own and
//     write-after-other-read, each 32 KiB cleared first by
//     kern.ClaimLines (what the steps do on two or more workers).
//
// On the 2-vCPU Zen 5 VM of the README's tables (the two on different
// dies) a write after the other core's read cost 8-10.5 ns a line against
// 0.5-0.7 for a core's own lines and 2.0 after the other's write, and
// reading the other's lines in one stream 2.1; claimed first, the write
// after the other's read 2.6-3.3, the core's own 1.0-1.5. In scratch tests on the
// same machine, software prefetch for writing (PREFETCHW) shortened the
// first case by at most a fifth, non-temporal stores took 1.5 ns a line
// in it, and Go's clear 1.6; zeroing every output past the caches before
// its layer (outside the layer's time) made ResNet-18's and DenseNet-121's
// layers on two threads 0.98-0.99 of their time, less than the zeroing
// cost. Compare the cases in one run: the absolute numbers move with the
// host.
func BenchmarkLineHandoff(b *testing.B) {
	if goruntime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two CPUs")
	}
	const n = 768 << 10 / 4 // float32 values
	buf := make([]float32, n)
	// The writes are the fastest tier's affine kernel's vector stores
	// (from a small source that stays in L1), as the kernels write.
	k := kern.Best()
	src := make([]float32, 1024)
	const (
		opRead = iota + 1
		opWrite
		opClaimWrite // kern.ClaimLines on each 32 KiB, then its writes
		opQuit
	)
	const claim = 8192 // values a claim clears at once
	var cmd, done atomic.Int64
	var sink atomic.Uint32
	run := func(op int64) {
		switch op {
		case opRead:
			var s float32
			for i := 0; i < n; i += 16 { // a value from every line
				s += buf[i]
			}
			sink.Store(uint32(s))
		case opWrite:
			for i := 0; i < n; i += len(src) {
				kern.AffineRow(k, buf[i:i+len(src)], src, 1, 0, false)
			}
		case opClaimWrite:
			for c := 0; c < n; c += claim {
				kern.ClaimLines(buf[c : c+claim])
				for i := c; i < c+claim; i += len(src) {
					kern.AffineRow(k, buf[i:i+len(src)], src, 1, 0, false)
				}
			}
		}
	}
	go func() {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		for seen := int64(0); ; {
			c := cmd.Load()
			if c == seen {
				continue
			}
			seen = c
			op := c & 7
			if op == opQuit {
				done.Store(c)
				return
			}
			run(op)
			done.Store(c)
		}
	}()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	seq := int64(0)
	other := func(op int64) { // runs op on the other goroutine and waits
		seq += 8
		cmd.Store(seq | op)
		for done.Load() != seq|op {
		}
	}
	defer other(opQuit)
	for _, c := range []struct {
		name   string
		before int64 // the other core's op; 0: the timed core reads first
		timed  int64
	}{
		{"own", 0, opWrite},
		{"write-after-other-read", opRead, opWrite},
		{"write-after-other-write", opWrite, opWrite},
		{"read-after-other-write", opWrite, opRead},
		{"claim-write-own", 0, opClaimWrite},
		{"claim-write-after-other-read", opRead, opClaimWrite},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total int64
			for b.Loop() {
				if c.before == 0 {
					run(opRead)
				} else {
					other(c.before)
				}
				t0 := time.Now()
				run(c.timed)
				total += int64(time.Since(t0))
			}
			b.ReportMetric(float64(total)/float64(b.N)/float64(n/16), "ns/line")
		})
	}
}

// BenchmarkPoolStart runs loops of 8 chunks of 2 µs on a pool of two
// workers, 30 µs of the caller's own work apart, and reports the median
// time from the call of Do to the helper's first chunk (start-µs) and of
// the whole loop (loop-µs, 8 µs of work a worker): what a loop costs
// beyond its work, where BenchmarkPoolDo gives the sum over many loops.
// The times include the clock reads of the chunks' timing (about 60 ns
// each on a KVM guest).
func BenchmarkPoolStart(b *testing.B) {
	if goruntime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two threads")
	}
	p := NewPool(2)
	defer p.Close()
	var starts, loops []float64
	for b.Loop() {
		busyFor(30 * time.Microsecond)
		t := &startTask{t0: time.Now()}
		p.Do(8, t)
		loops = append(loops, float64(time.Since(t.t0).Nanoseconds())/1e3)
		if t.helper > 0 {
			starts = append(starts, float64(t.helper)/1e3)
		}
	}
	b.ReportMetric(median(starts), "start-µs")
	b.ReportMetric(median(loops), "loop-µs")
}

// startTask is BenchmarkPoolStart's loop: it spins 2 µs a unit and notes
// when a helper first ran a chunk, in ns after t0.
type startTask struct {
	t0     time.Time
	_      [cacheLine]byte
	helper int64 // written by the helpers alone, read after Do
}

// Range runs units [lo, hi) as taker 0.
func (t *startTask) Range(lo, hi int) { t.RangeTaker(lo, hi, 0) }

// RangeTaker spins 2 µs a unit; a helper's first chunk notes its start.
func (t *startTask) RangeTaker(lo, hi, taker int) {
	if taker != 0 && t.helper == 0 {
		t.helper = time.Since(t.t0).Nanoseconds()
	}
	busyFor(time.Duration(hi-lo) * 2 * time.Microsecond)
}

// busyFor returns after d, reading the clock all along.
func busyFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// median returns the median of v (0 for none), sorting v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
