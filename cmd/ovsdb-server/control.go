package main

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/activebackup"
	"github.com/ovsdb-go/ovsdb-server/internal/unixctl"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// controlEnv is what the control commands act on.
type controlEnv struct {
	ctl        *unixctl.Server
	srv        *server.Server
	repl       *activebackup.Replicator
	log        *slog.Logger
	exitCh     chan struct{}
	covs       *coverageSet
	tlog       *tableLogs
	perfEvents bool // perf_event_open works here (C's perf counter probe)
	ssl        *sslWatch
	// saveConfig records the remotes and databases after a command
	// changes them (runconfig.go).
	saveConfig func()

	trimMu     sync.Mutex
	trimLogged bool
}

// registerMoreCommands adds the rest of C 3.1's ovsdb-server commands:
// coverage/*, memory-trim-on-compaction, tlog-*, perf-counters-*,
// disable-monitor-cond and get-db-storage-status.
func registerMoreCommands(env *controlEnv) {
	ctl, srv := env.ctl, env.srv
	ctl.Register("coverage/show", "", 0, 0, func([]string) (string, error) {
		return env.covs.show(), nil
	})
	ctl.Register("coverage/read-counter", "COUNTER", 1, 1, func(a []string) (string, error) {
		return env.covs.read(a[0])
	})
	ctl.Register("ovsdb-server/memory-trim-on-compaction", "on|off", 1, 1, func(a []string) (string, error) {
		return "", env.memoryTrim(a[0])
	})
	ctl.Register("ovsdb-server/tlog-set", "DB:TABLE on|off", 2, 2, func(a []string) (string, error) {
		return "", env.tlog.set(srv, a[0], a[1])
	})
	ctl.Register("ovsdb-server/tlog-list", "", 0, 0, func([]string) (string, error) {
		return env.tlog.list(srv), nil
	})
	ctl.Register("ovsdb-server/perf-counters-show", "", 0, 0, func([]string) (string, error) {
		return perfCountersText(env.perfEvents), nil
	})
	ctl.Register("ovsdb-server/perf-counters-clear", "", 0, 0, func([]string) (string, error) {
		// No counter is ever hit (perfCountersText): nothing to clear.
		return "", nil
	})
	ctl.Register("ovsdb-server/get-db-storage-status", "DB", 1, 1, func(a []string) (string, error) {
		if srv.Engine(a[0]) == nil {
			return "", errors.New("Failed to find the database.")
		}
		// C reports its storage's sticky error, which only a Raft
		// log found inconsistent while reading sets; ours keep none.
		return "status: ok", nil
	})
	ctl.Register("ovsdb-server/disable-monitor-cond", "", 0, 0, func([]string) (string, error) {
		srv.DisableMonitorCond()
		return "", nil
	})
}

// memoryTrim is ovsdb-server/memory-trim-on-compaction on|off: C's
// replies, and its log line the first time and at each change. Trimming
// is Go's debug.FreeOSMemory after ovsdb-server/compact.
func (env *controlEnv) memoryTrim(arg string) error {
	var on bool
	switch arg {
	case "on":
		on = true
	case "off":
	default:
		return errors.New("invalid argument")
	}
	env.trimMu.Lock()
	defer env.trimMu.Unlock()
	old := env.srv.TrimMemoryOnCompaction()
	env.srv.SetTrimMemoryOnCompaction(on)
	if !env.trimLogged || old != on {
		env.trimLogged = true
		state := "disabled"
		if on {
			state = "enabled"
		}
		env.log.Info(fmt.Sprintf("memory trimming after compaction %s.", state))
	}
	return nil
}

// perfCountersText is ovsdb-server/perf-counters-show. C's ovsdb-server
// 3.1 declares no performance counter (its PERF() macro is used nowhere),
// so its reply depends only on whether perf_event_open works on the
// machine; so does ours.
func perfCountersText(available bool) string {
	switch {
	case runtime.GOOS != "linux":
		return "Not Supported on this platform. Only available on Linux (version >= 2.6.32)\n"
	case !available:
		return "performance counter is not supported on this platform\n"
	}
	return "performance counter has never been hit\n"
}
