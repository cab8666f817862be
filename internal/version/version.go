// Package version names the programs of this project and their version.
//
// Each program prints two lines for --version and for the control command
// "version" (ovs-appctl version):
//
//	ovsdb-server (Open vSwitch) 3.1.0
//	ovsdb-server-go 0.1.0 (v0.0.0-20261206201026-e8ff5c0f1234+dirty, go1.26.8)
//
// The first is exactly the line of the C program this one replaces, for
// the scripts that parse it (ovs-lib reads the last word of the first line
// of "ovs-appctl version"). The second names this project, its release
// (Version) and, when the binary records them, the main module's version,
// which "go build" derives from the commit, or the commit itself and
// whether the work tree was modified, and the Go release that built it.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// OVS is the Open vSwitch release whose behaviour the programs reproduce.
const OVS = "3.1.0"

// Project is this project's name, as the second line prints it.
const Project = "ovsdb-server-go"

// Release is this project's release.
const Release = "0.1.0"

// Version is the release printed on the second line: Release unless a
// build overrides it with
//
//	go build -ldflags "-X github.com/ovsdb-go/ovsdb-server/internal/version.Version=1.2.3"
var Version = Release

// C returns the C program's version line, "PROGRAM (Open vSwitch) 3.1.0".
func C(program string) string { return fmt.Sprintf("%s (Open vSwitch) %s", program, OVS) }

// Line returns the line that names this project: "ovsdb-server-go VERSION"
// followed, in parentheses, by what the binary records of its build.
func Line() string {
	bi, _ := debug.ReadBuildInfo()
	return LineFor(bi)
}

// LineFor is Line for the build that bi describes (nil: nothing known),
// for example a binary's, read with debug/buildinfo.ReadFile.
func LineFor(bi *debug.BuildInfo) string {
	s := Project + " " + Version
	if bi == nil {
		return s
	}
	var parts []string
	mv := bi.Main.Version
	if mv != "" && mv != "(devel)" {
		parts = append(parts, mv)
	}
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		short := rev
		if len(short) > 12 {
			short = short[:12]
		}
		if !strings.Contains(mv, short) {
			if settings["vcs.modified"] == "true" {
				short += "+dirty"
			}
			parts = append(parts, settings["vcs"]+" "+short)
		}
	}
	if bi.GoVersion != "" {
		parts = append(parts, bi.GoVersion)
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// Text returns both lines, separated (not ended) by a newline.
func Text(program string) string { return C(program) + "\n" + Line() }
