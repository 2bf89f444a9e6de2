package loader

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// pb is a tiny protobuf encoder for building test messages field by field.
type pb []byte

func (b pb) varint(num protowire.Number, v uint64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func (b pb) int(num protowire.Number, v int64) pb { return b.varint(num, uint64(v)) }

func (b pb) fixed32(num protowire.Number, v uint32) pb {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

func (b pb) fixed64(num protowire.Number, v uint64) pb {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func (b pb) float(num protowire.Number, v float32) pb { return b.fixed32(num, math.Float32bits(v)) }

func (b pb) bytes(num protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pb) str(num protowire.Number, s string) pb { return b.bytes(num, []byte(s)) }

func (b pb) msg(num protowire.Number, m pb) pb { return b.bytes(num, m) }

// raw appends bytes as they are, for malformed input.
func (b pb) raw(v ...byte) pb { return append(b, v...) }

func (b pb) packedVarints(num protowire.Number, vs ...uint64) pb {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, v)
	}
	return b.bytes(num, p)
}

func (b pb) packedInts(num protowire.Number, vs ...int64) pb {
	u := make([]uint64, len(vs))
	for i, v := range vs {
		u[i] = uint64(v)
	}
	return b.packedVarints(num, u...)
}

func (b pb) ints(num protowire.Number, vs ...int64) pb {
	for _, v := range vs {
		b = b.int(num, v)
	}
	return b
}

func (b pb) packedFloats(num protowire.Number, vs ...float32) pb {
	var p []byte
	for _, v := range vs {
		p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
	}
	return b.bytes(num, p)
}

func (b pb) floats(num protowire.Number, vs ...float32) pb {
	for _, v := range vs {
		b = b.float(num, v)
	}
	return b
}

func (b pb) packedDoubles(num protowire.Number, vs ...float64) pb {
	var p []byte
	for _, v := range vs {
		p = binary.LittleEndian.AppendUint64(p, math.Float64bits(v))
	}
	return b.bytes(num, p)
}

// tensorPB starts a TensorProto with a name, data type and dims.
func tensorPB(name string, dt int32, dims ...int64) pb {
	var b pb
	b = b.ints(tfDims, dims...)
	b = b.int(tfDataType, int64(dt))
	if name != "" {
		b = b.str(tfName, name)
	}
	return b
}

func floatTensorPB(name string, dims []int64, vals ...float32) pb {
	return tensorPB(name, dtFloat, dims...).packedFloats(tfFloatData, vals...)
}

// valueInfoPB is a ValueInfoProto of a tensor type; dims of -1 are written
// as dim_param "d<i>", and nil dims leave the shape out.
func valueInfoPB(name string, elem int32, dims []int64) pb {
	tt := pb{}.int(ttElemType, int64(elem))
	if dims != nil {
		var sh pb
		for i, d := range dims {
			var dm pb
			if d < 0 {
				dm = dm.str(dimParam, "d"+string(rune('0'+i)))
			} else {
				dm = dm.int(dimValue, d)
			}
			sh = sh.msg(shDim, dm)
		}
		tt = tt.msg(ttShape, sh)
	}
	return pb{}.str(vfName, name).msg(vfType, pb{}.msg(tpTensorType, tt))
}

func nodePB(name, op, domain string, inputs, outputs []string, attrs ...pb) pb {
	var b pb
	for _, s := range inputs {
		b = b.str(nfInput, s)
	}
	for _, s := range outputs {
		b = b.str(nfOutput, s)
	}
	if name != "" {
		b = b.str(nfName, name)
	}
	b = b.str(nfOpType, op)
	if domain != "" {
		b = b.str(nfDomain, domain)
	}
	for _, a := range attrs {
		b = b.msg(nfAttribute, a)
	}
	return b
}

func opsetPB(domain string, version int64) pb {
	var b pb
	if domain != "" {
		b = b.str(1, domain)
	}
	return b.int(2, version)
}

// modelPB wraps a graph into a ModelProto importing the given opsets.
func modelPB(graph pb, opsets ...pb) pb {
	b := pb{}.int(mfIRVersion, 8).str(mfProducerName, "test")
	b = b.msg(mfGraph, graph)
	for _, o := range opsets {
		b = b.msg(mfOpsetImport, o)
	}
	return b
}

// simpleModel is a one-node model: y = Relu(x) + nothing, with one
// initializer w that is also listed as an input.
func simpleModel() pb {
	g := pb{}.
		msg(gfNode, nodePB("relu", "Relu", "", []string{"x"}, []string{"y"})).
		str(gfName, "g").
		msg(gfInitializer, floatTensorPB("w", []int64{2}, 1, 2)).
		msg(gfInput, valueInfoPB("x", dtFloat, []int64{1, 2})).
		msg(gfInput, valueInfoPB("w", dtFloat, []int64{2})).
		msg(gfOutput, valueInfoPB("y", dtFloat, []int64{1, 2}))
	return modelPB(g, opsetPB("", 13))
}
