package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// maxIDXBytes bounds the data an IDX file may declare (1 GiB), checked
// before anything is allocated.
const maxIDXBytes = 1 << 30

// idx is an IDX file of unsigned bytes (the MNIST and Fashion-MNIST
// format): a 4-byte magic 0x00 0x00 0x08 rank, rank big-endian uint32
// dims, then the data in row-major order.
type idx struct {
	dims []int
	data []byte
}

// readIDX reads an IDX file of unsigned bytes, gzip-compressed or raw.
func readIDX(path string) (*idx, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		defer gz.Close()
		r = gz
	}
	x, err := decodeIDX(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return x, nil
}

func decodeIDX(r io.Reader) (*idx, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("not an IDX file: %v", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("not an IDX file (magic %x)", head)
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("IDX element type 0x%02x is not unsigned bytes (0x08)", head[2])
	}
	rank := int(head[3])
	if rank < 1 || rank > 4 {
		return nil, fmt.Errorf("IDX rank %d, want 1 to 4", rank)
	}
	x := &idx{dims: make([]int, rank)}
	total := int64(1)
	for i := range x.dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("truncated IDX header: %v", err)
		}
		x.dims[i] = int(d)
		total *= int64(d)
		if total > maxIDXBytes {
			return nil, fmt.Errorf("IDX dims %v declare more than %d bytes", x.dims[:i+1], maxIDXBytes)
		}
	}
	// Read what is there (memory grows with the data, not the header's
	// claim), then check it is exactly what the dims declare.
	data, err := io.ReadAll(io.LimitReader(r, total+1))
	if err != nil {
		return nil, fmt.Errorf("reading IDX data: %v", err)
	}
	if int64(len(data)) != total {
		return nil, fmt.Errorf("IDX dims %v need %d bytes of data, the file has %d", x.dims, total, len(data))
	}
	x.data = data
	return x, nil
}
