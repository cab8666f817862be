package conformance

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// minCompared is the contract's lower bound on requests compared by the
// hand-written cases and the random generator together.
const minCompared = 400

// TestCases runs every hand-written case file in testdata/cases against
// fresh copies of the test database on both servers.
func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sort.Strings(files)
	total := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		cf, err := parseCaseFile(f)
		require.NoError(t, err)
		require.NotEmpty(t, cf.Reqs, f)
		total += len(cf.Reqs)
		t.Run(name, func(t *testing.T) {
			ref, test := startPair(t)
			s := newSession(t, name, ref, test)
			s.multi = cf.Multi
			for i, r := range cf.Reqs {
				s.compare(fmt.Sprintf("%s#%d", name, i), r)
			}
			t.Logf("%s: %d requests compared, %d differ", name, s.compared, s.differ)
		})
	}
	t.Logf("hand-written cases: %d requests in %d files", total, len(files))
}

// TestRequestCount checks the contract's minimum number of requests that the
// suite compares: the hand-written case files plus the random generator.
func TestRequestCount(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.json")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		cf, err := parseCaseFile(f)
		require.NoError(t, err)
		n += len(cf.Reqs)
	}
	n += randomCount()
	require.GreaterOrEqual(t, n, minCompared, "hand-written + random requests")
}
