package main

// Active-backup replication: the command line (--sync-from,
// --sync-exclude-tables, --active) and C's control commands, over
// package activebackup.

import (
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/activebackup"
)

// configureSync gives repl the command line's settings and reports
// whether the server starts as a backup (--sync-from without --active).
func configureSync(repl *activebackup.Replicator, cfg *config, log *slog.Logger) bool {
	if cfg.syncExclude != nil {
		_ = repl.SetExcludeTables(*cfg.syncExclude)
	}
	if cfg.syncFrom == nil {
		return false
	}
	repl.SetActiveServer(*cfg.syncFrom)
	return !cfg.active
}

// registerSyncCommands adds C's active-backup commands, with C's usage
// strings (none) and replies. Every reply of theirs is a success, C's
// messages included ("Unable to connect: ...", "Invalid probe interval,
// ...").
func registerSyncCommands(env *controlEnv) {
	ctl, repl := env.ctl, env.repl
	ctl.Register("ovsdb-server/set-active-ovsdb-server", "", 1, 1, func(a []string) (string, error) {
		repl.SetActiveServer(a[0])
		env.saveConfig()
		return "", nil
	})
	ctl.Register("ovsdb-server/get-active-ovsdb-server", "", 0, 0, func([]string) (string, error) {
		return repl.ActiveServer(), nil
	})
	ctl.Register("ovsdb-server/connect-active-ovsdb-server", "", 0, 0, func([]string) (string, error) {
		if err := repl.Connect(); errors.Is(err, activebackup.ErrNoActiveServer) {
			return err.Error(), nil
		}
		env.saveConfig()
		return "", nil
	})
	ctl.Register("ovsdb-server/disconnect-active-ovsdb-server", "", 0, 0, func([]string) (string, error) {
		repl.Disconnect()
		env.saveConfig()
		return "", nil
	})
	ctl.Register("ovsdb-server/set-active-ovsdb-server-probe-interval", "", 1, 1, func(a []string) (string, error) {
		ms, ok := strToInt(a[0])
		if !ok {
			return "Invalid probe interval, integer value expected", nil
		}
		repl.SetProbeInterval(ms)
		env.saveConfig()
		return "", nil
	})
	ctl.Register("ovsdb-server/set-sync-exclude-tables", "", 0, 1, func(a []string) (string, error) {
		// Without an argument C's server crashes (it copies a null
		// string); here the list is emptied.
		list := ""
		if len(a) == 1 {
			list = a[0]
		}
		if err := repl.SetExcludeTables(list); err != nil {
			return err.Error(), nil
		}
		env.saveConfig()
		return "", nil
	})
	ctl.Register("ovsdb-server/get-sync-exclude-tables", "", 0, 0, func([]string) (string, error) {
		return repl.ExcludeTables(), nil
	})
	// C's layout (state, then the replication's state on a backup),
	// and on a backup our lines on its lag after C's (ovn-ctl reads the
	// first line only).
	ctl.Register("ovsdb-server/sync-status", "", 0, 0, func([]string) (string, error) {
		return repl.Status(), nil
	})
}

// strToInt parses s as C's str_to_int(s, 10): strtol's syntax (leading
// white space, an optional sign, decimal digits, nothing after) and a
// value that fits in an int.
func strToInt(s string) (int, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	digits := strings.TrimLeft(t, "+-")
	if len(t)-len(digits) > 1 || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}
