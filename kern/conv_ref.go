package kern

// convRef is Reference.Conv: the direct definition, one output at a time,
// summed in float32 in order of c, kh, kw. It is the oracle the faster
// tiers are tested against: keep it plain.
func convRef(_ *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	cg, mg := g.C/g.Group, g.M/g.Group
	// y[n][m][oh][ow] = sum over c < Cg, kh < KH, kw < KW of
	//     x[n][grp·Cg + c][oh·SH - PadT + kh·DH][ow·SW - PadL + kw·DW] · w[m][c][kh][kw]
	//   + b[m] (+ Residual[n][m][oh][ow]), then Act
	// where x is read through the fusion's prologue when there is one, grp = m / (M/Group) is the group of output channel m and
	// positions in the padding contribute nothing.
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			grp := m / mg
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					var s float32
					for c := 0; c < cg; c++ {
						ic := grp*cg + c
						for kh := 0; kh < g.KH; kh++ {
							ih := oh*g.SH - g.PadT + kh*g.DH
							if ih < 0 || ih >= g.H {
								continue
							}
							for kw := 0; kw < g.KW; kw++ {
								iw := ow*g.SW - g.PadL + kw*g.DW
								if iw < 0 || iw >= g.W {
									continue
								}
								v := x[((n*g.C+ic)*g.H+ih)*g.W+iw]
								if f.hasPre() {
									v = f.pre(ic, v)
								}
								s += v * w[((m*cg+c)*g.KH+kh)*g.KW+kw]
							}
						}
					}
					if b != nil {
						s += b[m]
					}
					o := ((n*g.M+m)*g.OH+oh)*g.OW + ow
					if f != nil {
						if f.Residual != nil {
							s += f.Residual[o]
						}
						s = f.Act.One(s)
					}
					y[o] = s
				}
			}
		}
	}
}
