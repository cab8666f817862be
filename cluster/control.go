package cluster

// What the member offers the server beyond transactions: its own
// ovs-appctl commands (C's cluster/*), its memory/show figures, and the
// opener.

import (
	"errors"
	"fmt"

	"github.com/ovsdb-go/ovsdb-server/server"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// Control implements server.Mode: C's cluster/* commands of this member
// (args are those after the database name), with C's replies and errors.
// cluster/failure-test takes the scenario (it has no database argument:
// the test is engaged for the whole process, failure.go) and
// cluster/set-backlog-threshold the two numbers in decimal.
// cluster/recover only checks and returns the member's file path
// (recover.go): the server's command recovers the file.
func (c *Member) Control(command string, args []string) (string, error) {
	arg := func() string {
		if len(args) > 0 {
			return args[0]
		}
		return ""
	}
	switch command {
	case "cluster/cid":
		m := c.Meta()
		if m.ClusterID.IsZero() || m.Joining() {
			return "", errors.New("cluster id not yet known")
		}
		return m.ClusterID.String(), nil
	case "cluster/sid":
		return c.Meta().ServerID.String(), nil
	case "cluster/status":
		return c.StatusText()
	case "cluster/leave":
		return "", c.Leave()
	case "cluster/kick":
		return c.Kick(arg())
	case "cluster/change-election-timer":
		return c.ChangeElectionTimer(arg())
	case "cluster/failure-test":
		return c.failureTest(args)
	case "cluster/set-backlog-threshold":
		return c.setBacklogThreshold(args)
	case "cluster/recover":
		return c.recoverCheck(args)
	}
	return "", fmt.Errorf("%s: %w", command, server.ErrUnsupported)
}

// Memory implements server.Mode: C's Raft figures for memory/show:
// raft-backlog-kB (0: hashicorp/raft does not expose its send backlog),
// raft-connections and raft-log (entries in the log).
func (c *Member) Memory() map[string]int {
	st, err := c.node.Status()
	if err != nil {
		return nil
	}
	out := map[string]int{"raft-backlog-kB": 0, "raft-connections": 0, "raft-log": 0}
	if st.LogLast >= st.LogFirst && st.LogFirst > 0 {
		out["raft-log"] = int(st.LogLast - st.LogFirst + 1)
	}
	switch st.Role {
	case "leader":
		out["raft-connections"] = len(st.Servers) - 1
	case "follower":
		if st.LeaderID != "" {
			out["raft-connections"] = 1
		}
	}
	return out
}

// OpenMode is Open as a server.Opener.
func OpenMode(path string) (server.Mode, error) {
	m, err := Open(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Opener returns a server.Opener that opens clustered database files with
// Open and every other file with next (nil: server.OpenStandalone). A C
// clustered file is refused with an error naming the import command
// (ovsdb-tool create-cluster): our Raft cannot serve it.
func Opener(next server.Opener) server.Opener { return Options{}.Opener(next) }

// Opener is the package's Opener for members opened with options o.
func (o Options) Opener(next server.Opener) server.Opener {
	if next == nil {
		next = server.OpenStandalone
	}
	return func(path string) (server.Mode, error) {
		if f, err := raftstore.Sniff(path); err == nil && f == raftstore.FormatCCluster {
			return nil, fmt.Errorf("%s: this is a clustered database file of the C ovsdb-server; it cannot be served by this server: "+
				"import it with \"ovsdb-tool create-cluster NEW.db %s LOCAL-ADDRESS\" (docs/operations.md, \"Migrating a running C cluster\")", path, path)
		}
		if IsClusteredFile(path) {
			m, err := OpenWith(path, o)
			if err != nil {
				return nil, err
			}
			return m, nil
		}
		return next(path)
	}
}
