package loader

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bnrun/bnrun/ir"
)

// within runs f in a goroutine and returns its error, failing the test
// when f takes longer than a few seconds (so that a regression that
// blocks fails instead of hanging the test).
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("still running after 5 s")
		return nil
	}
}

// TestReadFileKinds: ReadFile, LoadFile and ReadTensorFile read regular
// files only, up to a size, and external data only from regular files:
// a named pipe blocked them forever, /dev/zero read until memory ran out.
func TestReadFileKinds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "p.fifo")
	fifos := exec.Command("mkfifo", fifo).Run() == nil
	if fifos {
		if err := exec.Command("mkfifo", filepath.Join(dir, "w.fifo")).Run(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.bin")
	if err := os.WriteFile(small, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		want       string
		fifo       bool
	}{
		{"named pipe", fifo, fifo + ": a named pipe, not a regular file", true},
		{"character device", "/dev/zero", "/dev/zero: a character device, not a regular file", false},
		{"directory", dir, dir + ": a directory, not a regular file", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fifo && !fifos {
				t.Skip("no named pipes here")
			}
			if _, err := os.Stat(c.path); err != nil {
				t.Skip(err)
			}
			for what, read := range map[string]func() error{
				"ReadFile":       func() error { _, err := ReadFile(c.path, 1<<20); return err },
				"LoadFile":       func() error { _, err := LoadFile(c.path); return err },
				"ReadTensorFile": func() error { _, _, err := ReadTensorFile(c.path); return err },
			} {
				err := within(t, read)
				t.Logf("%s: %v", what, err)
				var nr *NotRegularError
				if err == nil || err.Error() != c.want || !errors.As(err, &nr) {
					t.Errorf("%s: got %v, want %q", what, err, c.want)
				}
			}
		})
	}
	t.Run("size limit", func(t *testing.T) {
		data, err := ReadFile(small, 10)
		if err != nil || string(data) != "0123456789" {
			t.Errorf("at the limit: %q, %v", data, err)
		}
		_, err = ReadFile(small, 9)
		want := small + ": file of 10 bytes is larger than the limit of 9 bytes"
		if err == nil || err.Error() != want || !errors.Is(err, ir.ErrMemoryLimit) {
			t.Errorf("over the limit: got %v, want %q matching ir.ErrMemoryLimit", err, want)
		}
	})
	for _, c := range []struct {
		name, location, want string
		fifo                 bool
	}{
		{"external data a named pipe", "w.fifo", `initializer "ext": external data "w.fifo" is a named pipe, not a regular file`, true},
		{"external data a directory", "sub", `initializer "ext": external data "sub" is a directory, not a regular file`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.fifo && !fifos {
				t.Skip("no named pipes here")
			}
			err := within(t, func() error {
				_, err := Load(extModel(extTensor("ext", []int64{2}, "location", c.location)), Options{Dir: dir})
				return err
			})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestLoadContext: Load stops when its context is done, with an error that
// wraps the context's.
func TestLoadContext(t *testing.T) {
	g := pb{}
	for i := range 5000 {
		s := strconv.Itoa(i)
		g = g.msg(gfNode, nodePB("n"+s, "Relu", "", []string{"x"}, []string{"y" + s}))
	}
	model := modelPB(g, opsetPB("", 13))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadContext(ctx, model, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	// Cancelled while it decodes the nodes: at the first look.
	ctx, cancel = context.WithCancel(context.Background())
	gb := &graphBuilder{g: mustLoad(t, modelPB(pb{}, opsetPB("", 13)), Options{}), ctx: ctx}
	cancel()
	err = gb.parse(g)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped after 1023 nodes") {
		t.Errorf("cancelled while decoding: %v", err)
	}
	if _, err := LoadContext(context.Background(), model, Options{}); err != nil {
		t.Errorf("not cancelled: %v", err)
	}
}
