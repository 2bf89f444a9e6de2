package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/runtime"
)

// TestThreadsClampNote: a huge --threads runs (it made a 512 GB work
// queue) and the CLI says on standard error what the count was clamped
// to; a count within the clamp gets no note.
func TestThreadsClampNote(t *testing.T) {
	model := filepath.Join(lenetDir, "model.onnx")
	stderr := func(threads string) string {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stderr
		os.Stderr = w
		read := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(r)
			read <- string(b)
		}()
		code, _, errs := runCLI("inspect", "--threads", threads, model)
		os.Stderr = saved
		w.Close()
		note := <-read
		r.Close()
		if code != 0 {
			t.Fatalf("--threads %s: exit %d: %s", threads, code, errs)
		}
		return note
	}
	note := stderr("1000000000")
	want := fmt.Sprintf("bnrun: note: --threads 1000000000 clamped to %d\n", runtime.MaxThreads())
	if note != want {
		t.Errorf("stderr %q, want %q", note, want)
	}
	if note := stderr("2"); strings.Contains(note, "clamped") {
		t.Errorf("--threads 2: stderr %q", note)
	}
}
