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
	if len(srv.ClusterDBs()) > 0 {
		registerClusterCommands(ctl, srv)
	}
}

// registerClusterCommands adds C's cluster/* ovs-appctl commands
// (registering twice is harmless).
func registerClusterCommands(ctl *unixctl.Server, srv *server.Server) {
	lookup := func(name string) (*server.Cluster, error) {
		if c := srv.ClusterDB(name); c != nil {
			return c, nil
		}
		return nil, errUnknownCluster
	}
	ctl.Register("cluster/cid", "DB", 1, 1, func(a []string) (string, error) {
		c, err := lookup(a[0])
		if err != nil {
			return "", err
		}
		m := c.Meta()
		if m.ClusterID.IsZero() || m.Joining() {
			return "", errors.New("cluster id not yet known")
		}
		return m.ClusterID.String(), nil
	})
	ctl.Register("cluster/sid", "DB", 1, 1, func(a []string) (string, error) {
		c, err := lookup(a[0])
		if err != nil {
			return "", err
		}
		return c.Meta().ServerID.String(), nil
	})
	ctl.Register("cluster/status", "DB", 1, 1, func(a []string) (string, error) {
		c, err := lookup(a[0])
		if err != nil {
			return "", err
		}
		return c.StatusText()
	})
	ctl.Register("cluster/leave", "DB", 1, 1, func(a []string) (string, error) {
		c, err := lookup(a[0])
		if err != nil {
			return "", err
		}
		return "", c.Leave()
	})
	ctl.Register("cluster/kick", "DB SERVER", 2, 2, func(a []string) (string, error) {
		c, err := lookup(a[0])
		if err != nil {
			return "", err
		}
		return c.Kick(a[1])
	})
	ctl.Register("cluster/change-election-timer", "DB TIME", 2, 2, func(a []string) (string, error) {
		c, err := lookup(a[0])
		if err != nil {
			return "", err
		}
		return c.ChangeElectionTimer(a[1])
	})
}

// clusterMemory returns C's Raft figures for memory/show, summed over the
// clustered databases: raft-backlog-kB (0: hashicorp/raft does not expose
// its send backlog), raft-connections and raft-log (entries in the log).
func clusterMemory(srv *server.Server) map[string]int {
	dbs := srv.ClusterDBs()
	if len(dbs) == 0 {
		return nil
	}
	names := make([]string, 0, len(dbs))
	for n := range dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]int{"raft-backlog-kB": 0, "raft-connections": 0, "raft-log": 0}
	for _, n := range names {
		st, err := dbs[n].Node().Status()
		if err != nil {
			continue
		}
		if st.LogLast >= st.LogFirst && st.LogFirst > 0 {
			out["raft-log"] += int(st.LogLast - st.LogFirst + 1)
		}
		switch st.Role {
		case "leader":
			out["raft-connections"] += len(st.Servers) - 1
		case "follower":
			if st.LeaderID != "" {
				out["raft-connections"]++
			}
		}
	}
	return out
}

// withClusterMemory appends the Raft figures to a memory/show line.
func withClusterMemory(srv *server.Server, line string) string {
	extra := clusterMemory(srv)
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
