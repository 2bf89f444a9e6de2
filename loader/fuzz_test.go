package loader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// FuzzReadTensor feeds golden-file bytes to ReadTensor: it must return a
// tensor whose data matches its shape, or an error, never panic.
func FuzzReadTensor(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/models/*_op13/test_data_set_*/*.pb")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add(EncodeTensor("i", ir.NewI64([]int{2, 1}, []int64{-1, 7})))
	f.Add(EncodeTensor("s", ir.NewF32(nil, []float32{3})))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ten, err := ReadTensor(data)
		if err == nil && ten.Len() != ir.NumElems(ten.Shape) {
			t.Fatalf("%d elements for shape %v", ten.Len(), ten.Shape)
		}
	})
}
