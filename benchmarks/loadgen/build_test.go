package loadgen

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseCounts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"1,32", []int{1, 32}, false},
		{"1, 8,32", []int{1, 8, 32}, false},
		{" 8 ", []int{8}, false},
		{"0", nil, true},
		{"1,x", nil, true},
		{"", nil, true},
		{"x", nil, true},
		{"1,,2", nil, true},
		{"-3", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseCounts(tt.in)
		if tt.wantErr {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func TestRatio(t *testing.T) {
	require.Equal(t, "2.50x", Ratio(5, 2))
	require.Equal(t, "0.50x", Ratio(1, 2))
	require.Equal(t, "-", Ratio(5, 0))
}

func TestMedianRunResetsRuns(t *testing.T) {
	m := MedianRun([]Result{{TxnPerSec: 300, TxnPerSecRuns: []float64{1}}, {TxnPerSec: 100}, {TxnPerSec: 200}})
	require.Equal(t, 200.0, m.TxnPerSec)
	require.Equal(t, 3, m.Rounds)
	require.Equal(t, []float64{300, 100, 200}, m.TxnPerSecRuns)
}

func TestResolveTool(t *testing.T) {
	p, err := ResolveTool("/given/path", "no-such-tool-xyz")
	require.NoError(t, err)
	require.Equal(t, "/given/path", p)
	_, err = ResolveTool("", "no-such-tool-xyz")
	require.ErrorContains(t, err, "no-such-tool-xyz not found")
	p, err = ResolveTool("", "go")
	require.NoError(t, err)
	require.Equal(t, "go", filepath.Base(p))
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		names   []string
	}{
		{args: nil, names: []string{"c", "ours"}},
		{args: []string{"-only", "c"}, names: []string{"c"}},
		{args: []string{"-only", "ours"}, names: []string{"ours"}},
		{args: []string{"-only", "x"}, wantErr: true},
	}
	for _, tt := range tests {
		var f Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f.Register(fs)
		require.NoError(t, fs.Parse(append(tt.args, "-c", "/bin/c-server", "-ours", "/bin/our-server")))
		require.Equal(t, DefaultSchema, f.Schema)
		err := f.Setup()
		if tt.wantErr {
			require.Error(t, err, tt.args)
			continue
		}
		require.NoError(t, err)
		servers, err := f.Servers(t.TempDir())
		require.NoError(t, err)
		var names []string
		for _, s := range servers {
			names = append(names, s.Name)
			require.Equal(t, map[string]string{"c": "/bin/c-server", "ours": "/bin/our-server"}[s.Name], s.Binary)
		}
		require.Equal(t, tt.names, names)
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	fh, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, WriteJSON(fh, map[string]int{"a": 1}))
	require.NoError(t, fh.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 1\n}\n", string(data))
}
