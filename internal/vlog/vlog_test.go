package vlog

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func fixed(l *Logger) {
	l.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC) }
}

func TestFormats(t *testing.T) {
	l := New("ovsdb_server")
	fixed(l)
	var console bytes.Buffer
	l.SetConsole(&console)
	path := filepath.Join(t.TempDir(), "x.log")
	require.NoError(t, l.SetLogFile(path))
	log := slog.New(l.Handler())
	log.With("module", "jsonrpc").Info("hello", "n", 3)
	log.Warn("default module")
	log.Debug("not shown")
	log.Info("rec", "module", "raft")
	log.With("module", "jsonrpc").Info("override", "module", "socket_util")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "2026-01-02T03:04:05.678Z|00001|vlog|INFO|opened log file "+path+"\n"+
		"2026-01-02T03:04:05.678Z|00002|jsonrpc|INFO|hello n=3\n"+
		"2026-01-02T03:04:05.678Z|00003|ovsdb_server|WARN|default module\n"+
		"2026-01-02T03:04:05.678Z|00004|raft|INFO|rec\n"+
		"2026-01-02T03:04:05.678Z|00005|socket_util|INFO|override\n", string(data))
	require.Equal(t, "2026-01-02T03:04:05Z|00001|vlog|INFO|opened log file "+path+"\n"+
		"2026-01-02T03:04:05Z|00002|jsonrpc|INFO|hello n=3\n"+
		"2026-01-02T03:04:05Z|00003|ovsdb_server|WARN|default module\n"+
		"2026-01-02T03:04:05Z|00004|raft|INFO|rec\n"+
		"2026-01-02T03:04:05Z|00005|socket_util|INFO|override\n", console.String())
}

func TestSetLevels(t *testing.T) {
	tests := []struct {
		spec    string
		err     string
		module  string
		dest    Destination
		want    Level
		unchged string // a module that must keep INFO on dest
	}{
		{"jsonrpc:file:dbg", "", "jsonrpc", File, DBG, "raft"},
		{"console:off", "", "raft", Console, OFF, ""},
		{"ANY:ANY:warn", "", "vlog", Syslog, WARN, ""},
		{"", "", "vlog", File, DBG, ""},
		{"raft,emer", "", "raft", Console, EMER, "jsonrpc"},
		{"foo", `no destination, level, or module "foo"`, "", 0, 0, ""},
		{"file:console", "cannot specify multiple destinations", "", 0, 0, ""},
		{"dbg:info", "cannot specify multiple levels", "", 0, 0, ""},
		{"raft:jsonrpc", "cannot specify multiple modules", "", 0, 0, ""},
		{"PATTERN:bogus:%m", `unknown destination "bogus"`, "", 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			l := New("ovsdb_server")
			err := l.SetLevelsFromString(tc.spec)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, l.GetLevel(tc.module, tc.dest))
			if tc.unchged != "" {
				require.Equal(t, INFO, l.GetLevel(tc.unchged, tc.dest))
			}
		})
	}
}

func TestListFormat(t *testing.T) {
	l := New("ovsdb_server")
	require.NoError(t, l.SetLevelsFromString("jsonrpc:file:dbg"))
	require.NoError(t, l.SetLevelsFromString("console:off"))
	out := l.List()
	lines := strings.Split(out, "\n")
	require.Equal(t, "                 console    syslog    file", lines[0])
	require.Equal(t, "                 -------    ------    ------", lines[1])
	require.Equal(t, "backtrace          OFF       INFO       INFO", lines[2])
	require.Contains(t, out, "\njsonrpc            OFF       INFO        DBG\n")
	require.Contains(t, out, "\ndpif_lookup_autovalidator   OFF       INFO       INFO\n")
	require.Equal(t, len(DefaultModules)+3, len(lines))
	require.Contains(t, l.ListPattern(), "FILE     none                              %D{%Y-%m-%dT%H:%M:%S.###Z}|%05N|%c%T|%p|%m\n")
}

type reg map[string]func([]string) (string, error)

func (r reg) Register(name, _ string, _, _ int, fn func([]string) (string, error)) { r[name] = fn }

func TestCommands(t *testing.T) {
	l := New("ovsdb_server")
	fixed(l)
	l.SetConsole(nil)
	r := reg{}
	l.RegisterCommands(r)
	_, err := r["vlog/reopen"](nil)
	require.EqualError(t, err, "Logging to file not configured")
	_, err = r["vlog/set"]([]string{"raft:file:dbg", "bogus"})
	require.EqualError(t, err, `no destination, level, or module "bogus"`)
	require.Equal(t, DBG, l.GetLevel("raft", File))
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	require.NoError(t, l.SetLogFile(path))
	require.NoError(t, os.Rename(path, path+".1"))
	out, err := r["vlog/reopen"](nil)
	require.NoError(t, err)
	require.Empty(t, out)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^\S+\|00002\|vlog\|INFO\|opened log file `), string(data))
	list, err := r["vlog/list"](nil)
	require.NoError(t, err)
	require.Contains(t, list, "\nraft              INFO       INFO        DBG\n")
}

// TestRateLimit checks C's token bucket (bursts, refill per minute), the
// "Dropped ..." note and vlog/enable-rate-limit / disable-rate-limit.
func TestRateLimit(t *testing.T) {
	t.Cleanup(func() { SetRateLimits(true) })
	now := time.Unix(1000, 0)
	rl := NewRateLimit(30, 3)
	rl.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		ok, note := rl.Allow("transaction")
		require.True(t, ok)
		require.Empty(t, note)
	}
	ok, _ := rl.Allow("transaction")
	require.False(t, ok)
	now = now.Add(time.Second)
	ok, _ = rl.Allow("transaction")
	require.False(t, ok)
	// 30 a minute: one more after 2 s.
	now = now.Add(1500 * time.Millisecond)
	ok, note := rl.Allow("transaction")
	require.True(t, ok)
	require.Equal(t, "Dropped 2 log messages in last 2 seconds (most recently, 1 seconds ago) due to excessive rate", note)

	l := New("ovsdb_server")
	l.SetConsole(nil)
	r := reg{}
	l.RegisterCommands(r)
	_, err := r["vlog/disable-rate-limit"]([]string{"Transaction"})
	require.NoError(t, err)
	require.False(t, HonorsRateLimits("transaction"))
	require.True(t, HonorsRateLimits("raft"))
	ok, _ = rl.Allow("transaction")
	require.True(t, ok)
	_, err = r["vlog/enable-rate-limit"]([]string{"transaction", "bogus"})
	require.EqualError(t, err, "unknown module")
	require.True(t, HonorsRateLimits("transaction"))
	_, err = r["vlog/disable-rate-limit"](nil)
	require.NoError(t, err)
	require.False(t, HonorsRateLimits("raft"))
	_, err = r["vlog/enable-rate-limit"]([]string{"any"})
	require.NoError(t, err)
	require.True(t, HonorsRateLimits("raft"))
}
