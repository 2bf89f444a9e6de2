package ops

import (
	"slices"
	"strings"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Einsum", buildEinsum)
}

// einsumTable is the most contracted index combinations whose offsets an
// Einsum tabulates per input; summed labels beyond it are walked in an
// outer loop, so that a reduction over a large tensor allocates nothing
// in proportion to it.
const einsumTable = 1 << 14

// buildEinsum binds Einsum (opset 12 and later) on float32 inputs: the
// attribute equation "term1,term2,...->out" (whitespace ignored) names each
// input's axes with letters a-z, A-Z, and at most one "..." standing for
// the axes no letter names, which broadcast against each other as numpy's
// do (aligned right, a 1 stretching). A letter repeated within a term takes
// the diagonal. Every letter absent from the output is summed over. Without
// "->" the output is the ellipsis' axes, then the letters that occur once
// in the equation in ASCII order (numpy's implicit mode). maxvit's window
// attention writes its two batched products this way.
func buildEinsum(n *Node) (Kernel, error) {
	if n.Opset < 12 {
		return nil, n.Errorf("Einsum is an operator of opset 12 and later, the node's opset is %d", n.Opset)
	}
	eq, err := n.String("equation", "")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(eq) == "" {
		return nil, n.Errorf("attribute equation is missing or empty")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		return prepareEinsum(n, eq, in)
	}), nil
}

// einsumEllipsis is the first label number given to an ellipsis' axes;
// letters are their byte values.
const einsumEllipsis = 256

// einsumTerm parses one term of an equation into labels, an ellipsis
// marked by -1.
func einsumTerm(n *Node, term string) ([]int, error) {
	var labels []int
	ell := false
	for i := 0; i < len(term); i++ {
		c := term[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			labels = append(labels, int(c))
		case c == '.' && strings.HasPrefix(term[i:], "..."):
			if ell {
				return nil, n.Errorf("equation term %q has more than one ellipsis", term)
			}
			ell = true
			labels = append(labels, -1)
			i += 2
		default:
			return nil, n.Errorf("equation term %q: %q is neither a letter nor part of an ellipsis", term, c)
		}
	}
	return labels, nil
}

// einsumPlan is an equation bound to input shapes: the output's labels
// and sizes, the summed labels and sizes, and each input's stride for
// every label (0 where the input lacks it or broadcasts it).
type einsumPlan struct {
	outSize, sumSize []int
	outStride        [][]int // [input][output label]
	sumStride        [][]int // [input][summed label]
}

// planEinsum parses eq for inputs of the given shapes.
func planEinsum(n *Node, eq string, shapes [][]int) (*einsumPlan, error) {
	eq = strings.Join(strings.Fields(eq), "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	if strings.Contains(rhs, "->") {
		return nil, n.Errorf("equation %q has more than one \"->\"", eq)
	}
	terms := strings.Split(lhs, ",")
	if len(terms) != len(shapes) {
		return nil, n.Errorf("equation %q has %d input terms, the node %d inputs", eq, len(terms), len(shapes))
	}
	// Each input's axes as labels, an ellipsis expanded right-aligned
	// into labels einsumEllipsis + j of the widest ellipsis.
	parsed := make([][]int, len(terms))
	nell := make([]int, len(terms))
	maxEll := 0
	for i, term := range terms {
		labels, err := einsumTerm(n, term)
		if err != nil {
			return nil, err
		}
		named := len(labels)
		if slices.Contains(labels, -1) {
			named--
			nell[i] = len(shapes[i]) - named
			if nell[i] < 0 {
				return nil, n.Errorf("input %d has rank %d, fewer than term %q names", i, len(shapes[i]), term)
			}
		} else if named != len(shapes[i]) {
			return nil, n.Errorf("input %d has rank %d, term %q names %d axes", i, len(shapes[i]), term, named)
		}
		parsed[i] = labels
		maxEll = max(maxEll, nell[i])
	}
	axes := make([][]int, len(terms)) // the label of each axis of each input
	for i, labels := range parsed {
		for _, l := range labels {
			if l != -1 {
				axes[i] = append(axes[i], l)
				continue
			}
			for j := range nell[i] {
				axes[i] = append(axes[i], einsumEllipsis+maxEll-nell[i]+j)
			}
		}
	}
	// Label sizes: letters must agree, ellipsis axes broadcast.
	size := map[int]int{}
	count := map[int]int{}
	for i, ax := range axes {
		for d, l := range ax {
			count[l]++
			s := shapes[i][d]
			old, seen := size[l]
			switch {
			case !seen || old == s:
				size[l] = s
			case l >= einsumEllipsis && old == 1:
				size[l] = s
			case l >= einsumEllipsis && s == 1:
			case l >= einsumEllipsis:
				return nil, n.Errorf("the ellipsis' axes of the inputs (%s) do not broadcast", shapesString(shapes))
			default:
				return nil, n.Errorf("label %q has size %d and %d in the inputs (%s)", rune(l), old, s, shapesString(shapes))
			}
		}
	}
	var out []int
	if explicit {
		labels, err := einsumTerm(n, rhs)
		if err != nil {
			return nil, err
		}
		for _, l := range labels {
			if l == -1 {
				for j := range maxEll {
					out = append(out, einsumEllipsis+j)
				}
				continue
			}
			if _, ok := size[l]; !ok {
				return nil, n.Errorf("output label %q is in no input term of %q", rune(l), eq)
			}
			if slices.Contains(out, l) {
				return nil, n.Errorf("output label %q repeats in %q", rune(l), eq)
			}
			out = append(out, l)
		}
	} else {
		for j := range maxEll {
			out = append(out, einsumEllipsis+j)
		}
		var once []int
		for l, c := range count {
			if c == 1 && l < einsumEllipsis {
				once = append(once, l)
			}
		}
		slices.Sort(once)
		out = append(out, once...)
	}
	var sum []int
	for l := range size {
		if !slices.Contains(out, l) {
			sum = append(sum, l)
		}
	}
	slices.Sort(sum)
	// stride[i][l]: how far input i's offset moves when label l grows by
	// one; a repeated label adds its axes' strides (the diagonal).
	p := &einsumPlan{}
	for _, l := range out {
		p.outSize = append(p.outSize, size[l])
	}
	for _, l := range sum {
		p.sumSize = append(p.sumSize, size[l])
	}
	for i, ax := range axes {
		stride := map[int]int{}
		st := 1
		for d := len(ax) - 1; d >= 0; d-- {
			if shapes[i][d] != 1 || size[ax[d]] == 1 {
				stride[ax[d]] += st
			}
			st *= shapes[i][d]
		}
		os, ss := make([]int, len(out)), make([]int, len(sum))
		for k, l := range out {
			os[k] = stride[l]
		}
		for k, l := range sum {
			ss[k] = stride[l]
		}
		p.outStride = append(p.outStride, os)
		p.sumStride = append(p.sumStride, ss)
	}
	return p, nil
}

// shapesString writes shapes as "[2 3], [3 4]".
func shapesString(shapes [][]int) string {
	s := make([]string, len(shapes))
	for i, sh := range shapes {
		s[i] = ShapeString(sh)
	}
	return strings.Join(s, ", ")
}

func prepareEinsum(n *Node, eq string, in []*Value) ([]Value, Step, error) {
	if len(in) == 0 {
		return nil, Step{}, n.Errorf("Einsum needs at least one input")
	}
	shapes := make([][]int, len(in))
	for i, v := range in {
		if v == nil || v.DType != Float32 {
			return nil, Step{}, n.Errorf("input %d must be a float32 tensor", i)
		}
		shapes[i] = v.Shape
	}
	p, err := planEinsum(n, eq, shapes)
	if err != nil {
		return nil, Step{}, err
	}
	ny := NumElems(p.outSize)
	k := NumElems(p.sumSize)
	// The summed labels split into an outer part walked label by label
	// and an inner part whose offsets are tabulated: the trailing labels
	// while their combinations fit einsumTable.
	split := len(p.sumSize)
	inner := 1
	for split > 0 && inner*p.sumSize[split-1] <= einsumTable {
		split--
		inner *= p.sumSize[split]
	}
	nin := len(in)
	// table[i][c]: input i's offset for inner combination c
	table := make([][]int, nin)
	for i := range nin {
		table[i] = make([]int, inner)
		idx := make([]int, len(p.sumSize)-split)
		for c := range inner {
			o := 0
			for j, v := range idx {
				o += v * p.sumStride[i][split+j]
			}
			table[i][c] = o
			for j := len(idx) - 1; j >= 0; j-- {
				if idx[j]++; idx[j] < p.sumSize[split+j] {
					break
				}
				idx[j] = 0
			}
		}
	}
	outer := k / max(inner, 1)
	if inner == 0 {
		outer = 0
	}
	lens := make([]int, nin)
	for i := range nin {
		lens[i] = NumElems(shapes[i])
	}
	run := func(env *kern.Env, ins, outs []*Tensor) error {
		for i := range nin {
			if err := checkLen(ins[i], "input", lens[i]); err != nil {
				return n.Errorf("input %d: %v", i, err)
			}
		}
		if err := checkLen(outs[0], "output", ny); err != nil {
			return n.Errorf("%v", err)
		}
		// the Env's task, its inputs' slice kept between Runs: no allocation
		t := kern.TaskOf[einsumTask](env)
		t.p, t.split, t.outer, t.table, t.y = p, split, outer, table, outs[0].F32
		t.x = t.x[:0]
		for i := range nin {
			t.x = append(t.x, ins[i].F32)
		}
		kern.ParOf(env).Do(ny, t)
		clear(t.x)
		t.y = nil
		return nil
	}
	outsV, err := oneOutput(n, Value{DType: Float32, Shape: slices.Clone(p.outSize)})
	if err != nil {
		return nil, Step{}, err
	}
	// each output element sums k products of nin factors
	return outsV, Step{Run: run, MACs: int64(ny) * int64(k) * int64(max(nin-1, 1))}, nil
}

// einsumTask is one Run of an Einsum step: its plan, the split of the
// summed labels and the inner ones' offsets (prepareEinsum's), and the
// Run's tensors.
type einsumTask struct {
	p            *einsumPlan
	split, outer int
	table        [][]int
	x            [][]float32
	y            []float32
}

// Range computes output elements [lo, hi):
//
//	y[o] = Σ_{s} Π_i x_i[o·outStride_i + s·sumStride_i]
//
// over every combination s of the summed labels, in float64, the outer
// summed labels walked one by one and the inner ones through table.
func (t *einsumTask) Range(lo, hi int) {
	p, split, outer, table, x, y := t.p, t.split, t.outer, t.table, t.x, t.y
	nin := len(x)
	nout := len(p.outSize)
	var ib, ob, bb [maxRank]int
	idx := coordBuf(ib[:], nout)
	// the multi-index of output element lo
	r := lo
	for d := nout - 1; d >= 0; d-- {
		idx[d] = r % p.outSize[d]
		r /= p.outSize[d]
	}
	oidx := coordBuf(ob[:], split)
	base := coordBuf(bb[:], nin)
	for o := lo; o < hi; o++ {
		for i := range nin {
			b := 0
			for d, v := range idx {
				b += v * p.outStride[i][d]
			}
			base[i] = b
		}
		clear(oidx)
		var acc float64
		for range outer {
			switch nin {
			case 1:
				a, t := x[0][base[0]:], table[0]
				for _, ta := range t {
					acc += float64(a[ta])
				}
			case 2:
				a, b, ta, tb := x[0][base[0]:], x[1][base[1]:], table[0], table[1]
				for c, oa := range ta {
					acc += float64(a[oa]) * float64(b[tb[c]])
				}
			default:
				for c := range table[0] {
					prod := 1.0
					for i := range nin {
						prod *= float64(x[i][base[i]+table[i][c]])
					}
					acc += prod
				}
			}
			// next outer combination: move every base by the label's stride
			for j := split - 1; j >= 0; j-- {
				oidx[j]++
				for i := range nin {
					base[i] += p.sumStride[i][j]
				}
				if oidx[j] < p.sumSize[j] {
					break
				}
				for i := range nin {
					base[i] -= oidx[j] * p.sumStride[i][j]
				}
				oidx[j] = 0
			}
		}
		y[o] = float32(acc)
		for d := nout - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < p.outSize[d] {
				break
			}
			idx[d] = 0
		}
	}
}
