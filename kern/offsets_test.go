package kern

import "testing"

// TestOffsetTables checks offsetTables: a key's table is made once and
// then the same one is returned, keys that differ in path, geometry or a
// parameter get tables of their own, and past offsetTablesMax tables or
// offsetEntriesMax entries the tables are made again.
func TestOffsetTables(t *testing.T) {
	var tabs offsetTables
	made := 0
	fill := func(v int32) func([]int32) {
		return func(tab []int32) {
			made++
			for i := range tab {
				tab[i] = v + int32(i)
			}
		}
	}
	g := ConvGeom{N: 1, C: 8, H: 5, W: 5, M: 8, KH: 3, KW: 3, OH: 5, OW: 5, PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
	key := offsetKey{path: offsInPlace, g: g}
	a := tabs.get(key, 4, fill(10))
	b := tabs.get(key, 4, fill(20))
	if made != 1 || &a[0] != &b[0] || b[3] != 13 {
		t.Fatalf("second get of a key: made %d tables, got %v (first %v)", made, b, a)
	}
	g2 := g
	g2.W = 6
	for i, k := range []offsetKey{
		{path: offsPixPhase, g: g},
		{path: offsInPlace, g: g2},
		{path: offsInPlace, g: g, a: 1},
		{path: offsInPlace, g: g, b: 1},
	} {
		if c := tabs.get(k, 4, fill(int32(100*(i+1)))); c[0] != int32(100*(i+1)) {
			t.Errorf("key %d (%+v) got another key's table %v", i, k, c)
		}
	}
	if c := tabs.get(key, 5, fill(30)); len(c) != 5 || c[0] != 30 {
		t.Errorf("a key asked for 5 entries got %v", c)
	}
	for i := range offsetTablesMax {
		tabs.get(offsetKey{path: offsWino, g: g, a: i}, 1, fill(0))
	}
	if len(tabs.m) > offsetTablesMax {
		t.Errorf("%d tables kept, at most %d wanted", len(tabs.m), offsetTablesMax)
	}
	big := offsetEntriesMax / 3
	for i := range 4 {
		tabs.get(offsetKey{path: offsPixMajor, g: g, a: i}, big, fill(0))
		if tabs.entries > offsetEntriesMax {
			t.Fatalf("after %d tables of %d entries: %d entries kept, at most %d wanted", i+1, big, tabs.entries, offsetEntriesMax)
		}
	}
	sum := 0
	for _, tab := range tabs.m {
		sum += len(tab)
	}
	if sum != tabs.entries {
		t.Errorf("entries counted %d, the tables hold %d", tabs.entries, sum)
	}
}
