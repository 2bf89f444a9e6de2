package vision

import (
	"encoding/binary"
	"image"
	"image/color"
)

// maxExifEntries bounds the IFD entries exifOrientation reads (a JPEG
// segment holds at most 5,460 of 12 bytes anyway).
const maxExifEntries = 1024

// exifOrientation returns the orientation (1..8) that the EXIF data tiff
// (a TIFF header and its IFDs, as an APP1 Exif segment holds them after
// "Exif\0\0") gives in IFD0's tag 0x0112, or 0 when it gives none or a
// value out of range. It reads only the header and IFD0, every offset
// checked against the data.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(tiff[4:]))
	if off+2 > uint64(len(tiff)) {
		return 0
	}
	n := int(bo.Uint16(tiff[off:]))
	for k := range min(n, maxExifEntries) {
		// An entry: tag (2), type (2), count (4), value or offset (4).
		e := off + 2 + 12*uint64(k)
		if e+12 > uint64(len(tiff)) {
			return 0
		}
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		var v uint32
		switch typ, count := bo.Uint16(tiff[e+2:]), bo.Uint32(tiff[e+4:]); {
		case typ == 3 && count == 1: // SHORT, held in the value field
			v = uint32(bo.Uint16(tiff[e+8:]))
		case typ == 4 && count == 1: // LONG
			v = bo.Uint32(tiff[e+8:])
		default:
			return 0
		}
		if v < 1 || v > 8 {
			return 0
		}
		return int(v)
	}
	return 0
}

// orient returns img turned as EXIF orientation o (2..8) asks, as PIL's
// ImageOps.exif_transpose turns it: for an output pixel (x, y) of an
// image whose source is W×H, the source pixel is
//
//	2 (mirror):               (W-1-x, y)
//	3 (rotate 180°):          (W-1-x, H-1-y)
//	4 (flip):                 (x, H-1-y)
//	5 (transpose):            (y, x)
//	6 (rotate 90° clockwise): (y, H-1-x)
//	7 (transverse):           (W-1-y, H-1-x)
//	8 (rotate 90° counter):   (W-1-y, x)
//
// with the output H×W for 5 to 8. A gray image stays *image.Gray; any
// other becomes an opaque *image.RGBA of its 8-bit colours as stored (a
// JPEG has no alpha).
func orient(img image.Image, o int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	src := func(x, y int) (int, int) {
		switch o {
		case 2:
			return w - 1 - x, y
		case 3:
			return w - 1 - x, h - 1 - y
		case 4:
			return x, h - 1 - y
		case 5:
			return y, x
		case 6:
			return y, h - 1 - x
		case 7:
			return w - 1 - y, h - 1 - x
		case 8:
			return w - 1 - y, x
		}
		return x, y
	}
	r := image.Rect(0, 0, ow, oh)
	if g, ok := img.(*image.Gray); ok {
		out := image.NewGray(r)
		for y := range oh {
			for x := range ow {
				sx, sy := src(x, y)
				out.Pix[y*out.Stride+x] = g.GrayAt(b.Min.X+sx, b.Min.Y+sy).Y
			}
		}
		return out
	}
	at := rgbAt(img)
	out := image.NewRGBA(r)
	for y := range oh {
		for x := range ow {
			sx, sy := src(x, y)
			cr, cg, cb := at(b.Min.X+sx, b.Min.Y+sy)
			out.SetRGBA(x, y, color.RGBA{cr, cg, cb, 255})
		}
	}
	return out
}
