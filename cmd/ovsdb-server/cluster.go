package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/internal/unixctl"
	"github.com/ovsdb-go/ovsdb-server/server"
)

var errUnknownCluster = errors.New("unknown cluster")

// ensureClusterCommands registers the cluster/* commands once a clustered
// database is served: C registers them when it opens its first clustered
// database, so list-commands shows them only from then on.
func ensureClusterCommands(ctl *unixctl.Server, srv *server.Server) {
	for _, n := range srv.ListDatabases() {
		if srv.Model(n) == "clustered" {
			registerClusterCommands(ctl, srv)
			return
		}
	}
}

// registerClusterCommands adds C's cluster/* ovs-appctl commands
// (registering twice is harmless). Each is the database mode's own
// command (server.Mode.Control); a database that is not clustered is an
// "unknown cluster", as in C.
func registerClusterCommands(ctl *unixctl.Server, srv *server.Server) {
	for _, c := range []struct {
		name, usage string
		args        int
	}{
		{"cluster/cid", "DB", 1},
		{"cluster/sid", "DB", 1},
		{"cluster/status", "DB", 1},
		{"cluster/leave", "DB", 1},
		{"cluster/kick", "DB SERVER", 2},
		{"cluster/change-election-timer", "DB TIME", 2},
	} {
		name := c.name
		ctl.Register(name, c.usage, c.args, c.args, func(a []string) (string, error) {
			if srv.Model(a[0]) != "clustered" {
				return "", errUnknownCluster
			}
			out, err := srv.Control(a[0], name, a[1:])
			if errors.Is(err, server.ErrNoDatabase) || errors.Is(err, server.ErrUnsupported) {
				return "", errUnknownCluster
			}
			return out, err
		})
	}
}

// withClusterMemory appends the Raft figures to a memory/show line.
func withClusterMemory(srv *server.Server, line string) string {
	extra := srv.ModeMemory()
	if len(extra) == 0 {
		return line
	}
	fields := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, ":"); ok {
			fields[k] = v
		}
	}
	for k, v := range extra {
		fields[k] = fmt.Sprint(v)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + fields[k]
	}
	return strings.Join(parts, " ")
}
