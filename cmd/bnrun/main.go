// Command bnrun runs ONNX CNNs from the shell.
//
//	bnrun [MODEL.onnx] IMAGE...     classify images (PNG, JPEG, GIF, BMP, TIFF or WebP;
//	                                a folder: the images in it), print the top classes;
//	                                without a model, the built-in Fashion-MNIST ResNet
//	bnrun verify MODEL.onnx [DIR]   compare with golden outputs in the ONNX test layout
//	                                (.pb or .npy files), or with --inputs and --outputs files
//	bnrun inspect MODEL.onnx        show inputs, outputs, what optimisation did, MACs
//	bnrun eval MODEL.onnx --images IDX --labels IDX   accuracy on an IDX data set
//	bnrun eval MODEL.onnx --images DIR                or an image folder (a sub-folder per class)
//	bnrun bench MODEL.onnx          latency percentiles, throughput (also with several
//	                                Runs at once), GFLOP/s, peak memory
//	bnrun version                   module version, revision, Go version, backend
//
// Run `bnrun help` for the flags of each subcommand. Errors go to standard
// error and the exit code is non-zero.
//
// The command imports the root package, vision, npy and models/fashion;
// it reaches the loader, fold, runtime, ops and kern only through the
// root package.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(code)
}

const usage = `usage:
  bnrun [flags] [MODEL.onnx] IMAGE...  classify images, or the images of a folder
                                        (default model, given one IMAGE or folder:
                                        the shipped Fashion-MNIST ResNet)
  bnrun verify [flags] MODEL.onnx [DIR] compare outputs with test_data_set_* goldens
  bnrun verify [flags] MODEL.onnx --inputs FILE[,FILE] --outputs FILE[,FILE]
                                        the same with .pb, .npy or .npz files
  bnrun inspect [flags] MODEL.onnx      show inputs, outputs, what optimisation did, MACs
  bnrun eval [flags] MODEL.onnx --images IDX [--labels IDX]
  bnrun eval [flags] MODEL.onnx --images DIR
                                        classify an IDX image set, or a folder with a
                                        sub-folder per class, print accuracy
  bnrun bench [flags] MODEL.onnx        latency p50/p90/p99/max, throughput, GFLOP/s
  bnrun version                         show the version and the backend in use
  bnrun help [COMMAND]                  show flags

`

// run dispatches a subcommand and maps its error to an exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return 2
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
		printHelp(args[1:], stdout)
		return 0
	case args[0] == "verify":
		err = cmdVerify(args[1:], stdout)
	case args[0] == "bench":
		err = cmdBench(args[1:], stdout)
	case args[0] == "eval":
		err = cmdEval(args[1:], stdout, stderr)
	case args[0] == "inspect":
		err = cmdInspect(args[1:], stdout)
	case args[0] == "classify":
		err = cmdClassify(args[1:], stdout)
	case args[0] == "version" || args[0] == "--version" || args[0] == "-version":
		err = cmdVersion(args[1:], stdout)
	default:
		err = cmdClassify(args, stdout)
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, errFailed) {
		return 1
	}
	fmt.Fprintf(stderr, "bnrun: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 1
}

// errFailed is returned by commands that already reported a failure.
var errFailed = errors.New("failed")

func printHelp(args []string, w io.Writer) {
	fmt.Fprint(w, usage)
	cmds := map[string]func() *flag.FlagSet{
		"classify": func() *flag.FlagSet { fs, _ := classifyFlags(); return fs },
		"verify":   func() *flag.FlagSet { fs, _ := verifyFlags(); return fs },
		"inspect":  func() *flag.FlagSet { fs, _ := inspectFlags(); return fs },
		"eval":     func() *flag.FlagSet { fs, _ := evalFlags(); return fs },
		"bench":    func() *flag.FlagSet { fs, _ := benchFlags(); return fs },
	}
	names := []string{"classify", "verify", "inspect", "eval", "bench"}
	if len(args) > 0 {
		names = args
	}
	for _, n := range names {
		mk, ok := cmds[n]
		if !ok {
			fmt.Fprintf(w, "no command %q\n", n)
			continue
		}
		fmt.Fprintf(w, "%s flags:\n", n)
		fs := mk()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fmt.Fprintln(w)
	}
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// floatList parses a comma-separated list of floats for a flag.
type floatList []float32

func (f *floatList) String() string {
	parts := make([]string, len(*f))
	for i, v := range *f {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

func (f *floatList) Set(s string) error {
	var out []float32
	for _, p := range strings.Split(s, ",") {
		var v float32
		if _, err := fmt.Sscan(strings.TrimSpace(p), &v); err != nil {
			return fmt.Errorf("bad number %q", p)
		}
		out = append(out, v)
	}
	*f = out
	return nil
}

// dimList collects --dim NAME=SIZE flags (repeated, or comma-separated):
// sizes for a model's dynamic input dims, by symbolic name or INPUT:AXIS
// (see bnrun.Model.ShapesWith).
type dimList map[string]int

func (d *dimList) String() string {
	parts := make([]string, 0, len(*d))
	for k, v := range *d {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (d *dimList) Set(s string) error {
	if *d == nil {
		*d = dimList{}
	}
	for _, p := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if name = strings.TrimSpace(name); !ok || name == "" || err != nil || n < 1 {
			return fmt.Errorf("want NAME=SIZE with a size of at least 1, got %q", p)
		}
		(*d)[name] = n
	}
	return nil
}

// dimHelp is the usage line of --dim.
const dimHelp = "size of a dynamic input dim, NAME=SIZE by its symbolic name (height=224) or INPUT:AXIS; repeat it for several (dynamic first axes default to the batch)"
