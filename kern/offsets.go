package kern

import "sync"

// offsetTables keeps the offset tables that the in-place, pixel-tile and
// Winograd paths read (where each row of B starts in the source, where
// each output pixel's or tile's inputs and outputs lie), one per path and
// geometry: a table depends on nothing else, so it is made the first time
// a geometry runs and read by every later call, and by concurrent Runs.
// Made on every call, they were a serial part of each layer that the
// other workers wait through (up to 4608 entries for a 3×3 layer of 512
// channels): kept, two threads, alternating in one process, ResNet-18 and
// ResNet-50 0.99 of their time, DenseNet-121 0.98-0.99, MobileNetV2 0.99;
// one thread within noise.
type offsetTables struct {
	mu      sync.Mutex
	m       map[offsetKey][]int32
	entries int // the tables' entries, all together
}

// offsetKey names a table: the path that reads it, the convolution's
// geometry as the path is called with it, and the path's own parameters
// that the geometry does not fix.
type offsetKey struct {
	path offsetPath
	g    ConvGeom
	a, b int
}

// offsetPath is the path, and the layout, an offset table is for.
type offsetPath uint8

// The offset tables.
const (
	offsInPlace    offsetPath = iota // convInPlace's boff
	offsPixBlocked                   // convPix's boff and pix on the blocked copy (a = its rows, b = its row's length)
	offsPixStrided                   // on x's planes as they lie (pixStridedPoint)
	offsPixMajor                     // on the pixel-major copy (its stride, pixMajorLd(C), fixed by the geometry)
	offsPixIn                        // on a pixel-major input (ConvFusion.PixIn), a pixel's C channels a row
	offsPixPhase                     // on the phase copy
	offsWino                         // convWinograd's toff, yoff and offMid
	offsWinoParts                    // convWinogradParts' (a = the parts)
)

// offsetTablesMax bounds the tables kept and offsetEntriesMax their
// entries (16 MiB): past either (models run at many input sizes) the
// tables are dropped and made again as they are needed. A network holds
// tens of tables of a few thousand entries.
const (
	offsetTablesMax  = 1024
	offsetEntriesMax = 1 << 22
)

// get returns the table named by key, n entries, which fill makes (from
// zeros) the first time; the table must only be read.
func (t *offsetTables) get(key offsetKey, n int, fill func(tab []int32)) []int32 {
	t.mu.Lock()
	tab, ok := t.m[key]
	t.mu.Unlock()
	if ok && len(tab) == n {
		return tab
	}
	tab = make([]int32, n)
	fill(tab)
	t.mu.Lock()
	if t.m == nil || len(t.m) >= offsetTablesMax || t.entries+n > offsetEntriesMax {
		t.m, t.entries = map[offsetKey][]int32{}, 0
	}
	if old, ok := t.m[key]; ok {
		t.entries -= len(old)
	}
	t.m[key] = tab
	t.entries += n
	t.mu.Unlock()
	return tab
}
