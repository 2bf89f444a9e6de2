package loader

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bnrun/bnrun/ir"
)

// AttributeProto field numbers.
const (
	afName          = 1
	afF             = 2
	afI             = 3
	afS             = 4
	afT             = 5
	afG             = 6
	afFloats        = 7
	afInts          = 8
	afStrings       = 9
	afTensors       = 10
	afGraphs        = 11
	afDocString     = 13
	afTP            = 14
	afTypeProtos    = 15
	afType          = 20
	afRefAttrName   = 21
	afSparseTensor  = 22
	afSparseTensors = 23
)

// Attribute types that ops does not name; they are kept with their type
// and no payload, for operators to reject.
const (
	attrTensors       ir.AttrType = 9
	attrGraphs        ir.AttrType = 10
	attrSparseTensor  ir.AttrType = 11
	attrSparseTensors ir.AttrType = 12
	attrTypeProto     ir.AttrType = 13
	attrTypeProtos    ir.AttrType = 14
)

// payloadType is the attribute type each payload field implies, for files
// that predate AttributeProto.type.
var payloadType = map[protowire.Number]ir.AttrType{
	afF:             ir.AttrFloat,
	afI:             ir.AttrInt,
	afS:             ir.AttrString,
	afT:             ir.AttrTensor,
	afG:             ir.AttrGraph,
	afFloats:        ir.AttrFloats,
	afInts:          ir.AttrInts,
	afStrings:       ir.AttrStrings,
	afTensors:       attrTensors,
	afGraphs:        attrGraphs,
	afSparseTensor:  attrSparseTensor,
	afSparseTensors: attrSparseTensors,
	afTP:            attrTypeProto,
	afTypeProtos:    attrTypeProtos,
}

// parseAttr decodes an AttributeProto. On error the returned Attr, when not
// nil, carries the name read so far, for the message.
func parseAttr(b []byte, tc tensorCtx) (*ir.Attr, error) {
	a := &ir.Attr{}
	var typ int32
	var tparts [][]byte
	var ref string
	present := map[protowire.Number]bool{}
	err := eachField(b, func(f field) error {
		var err error
		if _, ok := payloadType[f.num]; ok {
			present[f.num] = true
		}
		switch f.num {
		case afName:
			a.Name, err = f.str()
		case afF:
			a.F, err = f.float32v()
		case afI:
			a.I, err = f.int64v()
		case afS:
			a.S, err = f.str()
		case afT:
			var tb []byte
			tb, err = f.bytes()
			tparts = append(tparts, tb)
		case afFloats:
			a.Floats, err = appendFloat32s(a.Floats, f)
		case afInts:
			a.Ints, err = appendInt64s(a.Ints, f)
		case afStrings:
			var s string
			s, err = f.str()
			a.Strings = append(a.Strings, s)
		case afG, afTensors, afGraphs, afTP, afTypeProtos, afSparseTensor, afSparseTensors, afDocString:
			_, err = f.bytes()
		case afType:
			typ, err = f.int32v()
		case afRefAttrName:
			ref, err = f.str()
		}
		return err
	})
	if err != nil {
		return a, err
	}
	if a.Name == "" {
		return a, errors.New("attribute has no name")
	}
	if ref != "" {
		return a, fmt.Errorf("refers to attribute %q, which is only allowed inside functions", ref)
	}
	switch {
	case typ < 0 || typ > int32(attrTypeProtos):
		return a, fmt.Errorf("unknown attribute type %d", typ)
	case typ > 0:
		a.Type = ir.AttrType(typ)
	default:
		// Old files: the type is whichever payload is present.
		for num := range present {
			if a.Type != 0 {
				return a, errors.New("no type, and more than one value field is set")
			}
			a.Type = payloadType[num]
		}
		if a.Type == 0 {
			return a, errors.New("no type and no value")
		}
	}
	// Keep only the payload that matches the type.
	out := &ir.Attr{Name: a.Name, Type: a.Type}
	switch a.Type {
	case ir.AttrFloat:
		out.F = a.F
	case ir.AttrInt:
		out.I = a.I
	case ir.AttrString:
		out.S = a.S
	case ir.AttrFloats:
		out.Floats = a.Floats
	case ir.AttrInts:
		out.Ints = a.Ints
	case ir.AttrStrings:
		out.Strings = a.Strings
	case ir.AttrTensor:
		if len(tparts) == 0 {
			return a, errors.New("TENSOR attribute has no tensor")
		}
		name, t, err := decodeTensor(concat(tparts), tc)
		if err != nil {
			return a, tensorErr(name, "tensor", err)
		}
		out.T = t
	}
	return out, nil
}
