package bnrun

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"sort"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/loader"
)

// OpenReader loads a model from r, read to its end. A model with external
// tensor data cannot be opened this way (use OpenFS or Open). More bytes
// than Open would read from a file (see OpenContext) are refused with an
// error matching ErrMemoryLimit, after reading one past the limit.
func OpenReader(r io.Reader, opts ...Option) (*Model, error) {
	return OpenReaderContext(context.Background(), r, opts...)
}

// OpenReaderContext is OpenReader giving up, as OpenContext does, when ctx
// is done.
func OpenReaderContext(ctx context.Context, r io.Reader, opts ...Option) (*Model, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	limit := maxFileBytes(c)
	lr := io.Reader(r)
	if limit < 1<<62 {
		lr = io.LimitReader(r, limit+1)
	}
	data, err := io.ReadAll(lr)
	if err != nil {
		return nil, fmt.Errorf("reading the model: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, ir.LimitErrorf("the model is larger than %d bytes (the per-tensor plus the per-Run memory limit, see WithMemoryLimits)", limit)
	}
	g, err := loader.LoadContext(ctx, data, loader.Options{MaxTensorBytes: c.maxTensor})
	if err != nil {
		return nil, err
	}
	return newModel(ctx, g, c)
}

// OpenFS loads the model file name from fsys, for instance an embed.FS
// that holds it with //go:embed. External tensor data is resolved in the
// model's folder inside fsys and never outside it. The file must be a
// regular file no larger than Open would read (see OpenContext).
func OpenFS(fsys fs.FS, name string, opts ...Option) (*Model, error) {
	return OpenFSContext(context.Background(), fsys, name, opts...)
}

// OpenFSContext is OpenFS giving up, as OpenContext does, when ctx is
// done.
func OpenFSContext(ctx context.Context, fsys fs.FS, name string, opts ...Option) (*Model, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", name, st.Mode().Type())
	}
	if limit := maxFileBytes(c); st.Size() > limit {
		return nil, ir.LimitErrorf("%s: %d bytes, over the limit of %d (the per-tensor plus the per-Run memory limit, see WithMemoryLimits)", name, st.Size(), limit)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, st.Size()+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) != st.Size() {
		return nil, fmt.Errorf("%s: read %d bytes, but its size is %d (did it change?)", name, len(data), st.Size())
	}
	g, err := loader.LoadContext(ctx, data, loader.Options{FS: fsys, Dir: path.Dir(name), MaxTensorBytes: c.maxTensor})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data = nil
	return newModel(ctx, g, c)
}

// ModelInfo is what a model file says about itself.
type ModelInfo struct {
	IRVersion       int64
	ProducerName    string // "pytorch", "tf2onnx", ...
	ProducerVersion string
	DocString       string
	// Opsets maps each imported operator-set domain ("" for the default
	// ONNX domain) to its version.
	Opsets map[string]int
	// Metadata holds the model's metadata_props (see Metadata).
	Metadata map[string]string
}

// Info returns what the model file says about itself: its IR version,
// producer, doc string, opset imports and metadata. The maps are copies.
func (m *Model) Info() ModelInfo {
	info := m.info
	info.Opsets = maps.Clone(m.info.Opsets)
	if info.Opsets == nil {
		info.Opsets = map[string]int{}
	}
	info.Metadata = maps.Clone(m.prog.Graph().Metadata)
	if info.Metadata == nil {
		info.Metadata = map[string]string{}
	}
	return info
}

// String formats the info in one line: IR version, producer, opsets.
func (i ModelInfo) String() string {
	doms := make([]string, 0, len(i.Opsets))
	for d := range i.Opsets {
		doms = append(doms, d)
	}
	sort.Strings(doms)
	s := fmt.Sprintf("IR %d, producer %q %q, opsets", i.IRVersion, i.ProducerName, i.ProducerVersion)
	for _, d := range doms {
		name := d
		if name == "" {
			name = "ai.onnx"
		}
		s += fmt.Sprintf(" %s:%d", name, i.Opsets[d])
	}
	return s
}
