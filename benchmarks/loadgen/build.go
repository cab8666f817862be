package loadgen

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// This file holds what the benchmark commands (benchmarks/cmd/loadgen,
// monbench and clusterbench) share: the common flags, finding the C
// binaries, building ours, and small report helpers.

// ResolveTool returns given when it is set; otherwise the executable name
// found in PATH or, failing that, in the usual sbin and bin directories.
func ResolveTool(given, name string) (string, error) {
	if given != "" {
		return given, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (install with `make deps` or pass its path)", name)
}

// BuildOurs returns given when it is set; otherwise it runs `go build -o
// dir/name pkg` (pkg relative to the module root, e.g. "./cmd/ovsdb-server",
// so the command must run from there) and returns the binary's path.
func BuildOurs(given, dir, name, pkg string) (string, error) {
	if given != "" {
		return given, nil
	}
	p := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", p, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s (run from the module root, or pass the path): %w", pkg, err)
	}
	return p, nil
}

// ParseCounts parses a comma-separated list of positive counts ("1,8,32").
func ParseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Ratio formats a/b as "1.23x", or "-" when b is zero.
func Ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// MedianRun returns the run with the median throughput (the lower middle
// one for an even count) with Rounds set and, for more than one run, the
// throughput of every run in run order in TxnPerSecRuns.
func MedianRun(rs []Result) Result {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b Result) int { return cmp.Compare(a.TxnPerSec, b.TxnPerSec) })
	m := sorted[(len(sorted)-1)/2]
	m.Rounds = len(rs)
	m.TxnPerSecRuns = nil
	if len(rs) > 1 {
		for _, r := range rs {
			m.TxnPerSecRuns = append(m.TxnPerSecRuns, r.TxnPerSec)
		}
	}
	return m
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// DefaultSchema is the schema the benchmark commands load by default.
const DefaultSchema = "/usr/share/ovn/ovn-nb.ovsschema"

// Flags are the command-line flags every benchmark command has.
type Flags struct {
	Ours    string // our ovsdb-server binary ("" = go build ./cmd/ovsdb-server)
	C       string // C ovsdb-server binary ("" = from PATH or /usr/sbin)
	Only    string // "", "c" or "ours"
	Schema  string
	JSON    bool
	Verbose bool
}

// Register defines -ours, -c, -only, -schema, -json and -v on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Ours, "ours", "", "our ovsdb-server binary (default: go build ./cmd/ovsdb-server)")
	fs.StringVar(&f.C, "c", "", "C ovsdb-server binary (default: from PATH or /usr/sbin)")
	fs.StringVar(&f.Only, "only", "", `run only one server: "c" or "ours" (default both)`)
	fs.StringVar(&f.Schema, "schema", DefaultSchema, "schema file")
	fs.BoolVar(&f.JSON, "json", false, "print results as JSON instead of tables")
	fs.BoolVar(&f.Verbose, "v", false, "log progress to stderr")
}

// Setup checks -only and installs the default slog logger on stderr, at
// level Info with -v and Warn without.
func (f *Flags) Setup() error {
	if f.Only != "" && f.Only != "c" && f.Only != "ours" {
		return errors.New(`-only must be "c" or "ours"`)
	}
	level := slog.LevelWarn
	if f.Verbose {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	return nil
}

// Runs reports whether the server kind name ("c" or "ours") is selected
// by -only.
func (f *Flags) Runs(name string) bool { return f.Only == "" || f.Only == name }

// Servers returns the selected servers, C first: C from -c or PATH, ours
// from -ours or built into dir.
func (f *Flags) Servers(dir string) ([]ServerSpec, error) {
	var servers []ServerSpec
	if f.Runs("c") {
		p, err := ResolveTool(f.C, "ovsdb-server")
		if err != nil {
			return nil, err
		}
		servers = append(servers, ServerSpec{Name: "c", Binary: p})
	}
	if f.Runs("ours") {
		p, err := BuildOurs(f.Ours, dir, "ovsdb-server-ours", "./cmd/ovsdb-server")
		if err != nil {
			return nil, err
		}
		servers = append(servers, ServerSpec{Name: "ours", Binary: p})
	}
	return servers, nil
}

// TempServers makes a temporary directory for a run (named after prefix)
// and returns it with the servers to measure (Servers, ours built into
// it); the caller defers cleanup, which removes the directory.
func (f *Flags) TempServers(prefix string) (dir string, servers []ServerSpec, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if servers, err = f.Servers(dir); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	return dir, servers, cleanup, nil
}

// PrintServers prints one "  name: binary" line per server.
func PrintServers(w io.Writer, servers []ServerSpec) {
	for _, s := range servers {
		fmt.Fprintf(w, "  %s: %s\n", s.Name, s.Binary)
	}
}

// ClusterKind is one server implementation with its matching ovsdb-tool
// (the cluster file formats differ).
type ClusterKind struct {
	Name, Server, Tool string
}

// ClusterKinds returns the kinds f selects, C first: C's binaries from
// f.C/cTool or PATH, ours built into tmp unless given.
func (f *Flags) ClusterKinds(tmp, cTool, oursTool string) ([]ClusterKind, error) {
	var kinds []ClusterKind
	if f.Runs("c") {
		s, err := ResolveTool(f.C, "ovsdb-server")
		if err != nil {
			return nil, err
		}
		t, err := ResolveTool(cTool, "ovsdb-tool")
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, ClusterKind{"c", s, t})
	}
	if f.Runs("ours") {
		s, err := BuildOurs(f.Ours, tmp, "ovsdb-server-ours", "./cmd/ovsdb-server")
		if err != nil {
			return nil, err
		}
		t, err := BuildOurs(oursTool, tmp, "ovsdb-tool-ours", "./cmd/ovsdb-tool")
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, ClusterKind{"ours", s, t})
	}
	return kinds, nil
}
