package npy

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bnrun/bnrun/ir"
)

// Array is one named array of an .npz archive.
type Array struct {
	// Name is the entry's name without ".npy": a keyword of numpy.savez,
	// or arr_0, arr_1, ... for positional arrays.
	Name   string
	Tensor *ir.Tensor
}

// deflateRatio bounds how many bytes deflate can make of one compressed
// byte (its limit is about 1032).
const deflateRatio = 1100

// DecodeNPZ parses an .npz archive held in data and returns its arrays in
// the archive's order. Entries are decompressed up to maxBytes in all (0:
// DefaultMaxBytes); an archive whose entries declare more, or a stored
// or deflated entry that declares more than its compressed bytes can
// hold, is refused before it is read.
func DecodeNPZ(data []byte, maxBytes int64) ([]Array, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, formatErrorf("not an .npz file: %v", err)
	}
	var out []Array
	seen := map[string]bool{}
	budget := maxBytes
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if name == f.Name || name == "" || strings.HasSuffix(f.Name, "/") {
			return nil, formatErrorf(".npz entry %q is not a .npy file", f.Name)
		}
		if seen[name] {
			return nil, formatErrorf(".npz holds %q twice", f.Name)
		}
		seen[name] = true
		if f.CompressedSize64 > uint64(len(data)) {
			return nil, formatErrorf(".npz entry %q: %d compressed bytes in a %d-byte archive", f.Name, f.CompressedSize64, len(data))
		}
		limit := f.CompressedSize64
		if f.Method == zip.Deflate {
			limit = f.CompressedSize64*deflateRatio + 1024
		}
		if f.UncompressedSize64 > limit {
			return nil, formatErrorf(".npz entry %q declares %d bytes from %d compressed", f.Name, f.UncompressedSize64, f.CompressedSize64)
		}
		if f.UncompressedSize64 > uint64(budget) {
			return nil, ir.LimitErrorf(".npz entry %q: %d bytes, over the limit of %d for the archive", f.Name, f.UncompressedSize64, maxBytes)
		}
		budget -= int64(f.UncompressedSize64)
		rc, err := f.Open()
		if err != nil {
			return nil, formatErrorf(".npz entry %q: %v", f.Name, err)
		}
		// Read what the entry really holds, at most its declared size
		// plus one byte: memory grows with the data, not the claim.
		b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			return nil, formatErrorf(".npz entry %q: %v", f.Name, err)
		}
		if uint64(len(b)) != f.UncompressedSize64 {
			return nil, formatErrorf(".npz entry %q: %d bytes, it declares %d", f.Name, len(b), f.UncompressedSize64)
		}
		t, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf(".npz entry %q: %w", f.Name, err)
		}
		out = append(out, Array{Name: name, Tensor: t})
	}
	if len(out) == 0 {
		return nil, formatErrorf(".npz archive holds no arrays")
	}
	return out, nil
}

// ReadNPZ reads the .npz file at path (see DecodeNPZ); the file itself
// must be a regular file of at most maxBytes (0: DefaultMaxBytes). Errors
// name the file.
func ReadNPZ(path string, maxBytes int64) ([]Array, error) {
	data, err := readRegular(path, maxBytes)
	if err != nil {
		return nil, err
	}
	arrays, err := DecodeNPZ(data, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return arrays, nil
}

// WriteNPZ writes arrays to path as an uncompressed .npz archive, as
// numpy.savez does: one NAME.npy entry per array, in order.
func WriteNPZ(path string, arrays []Array) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range arrays {
		data, err := Encode(a.Tensor)
		if err != nil {
			return fmt.Errorf("array %q: %w", a.Name, err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
