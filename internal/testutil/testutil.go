package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI=true, where a missing
// reference tool is a failure instead of a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of a reference tool (ovsdb-server,
// ovsdb-tool, ovn-nbctl...). If it is missing the test is skipped, or
// failed when CI=true.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		cand := dir + "/" + name
		if st, err := os.Stat(cand); err == nil && !st.IsDir() {
			return cand
		}
	}
	if InCI() {
		t.Fatalf("reference tool %q is not installed (CI=true: run `make deps`)", name)
	}
	t.Skipf("reference tool %q is not installed; run `make deps`", name)
	return ""
}

// MissingPrerequisite skips the test locally when something it needs from
// the reference packages (a schema, a script, the Python IDL) is absent,
// and fails it when CI=true, where a missing reference tool is a failure.
func MissingPrerequisite(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format+" (CI=true: run `make deps`)", args...)
	}
	t.Skipf(format, args...)
}
