package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/cluster"
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
	// Ours (C has none): hidden, so that list-commands stays C's list
	// (compareListCommands); documented in raft/DESIGN.md.
	ctl.RegisterHidden("cluster/recover", 1, 2, func(a []string) (string, error) {
		return recoverMember(srv, a)
	})
	ctl.Register("cluster/set-backlog-threshold", "DB N_MSGS N_BYTES", 3, 3, func(a []string) (string, error) {
		return setBacklogThreshold(srv, a)
	})
	ctl.Register("cluster/failure-test", "FAILURE SCENARIO", 1, 1, func(a []string) (string, error) {
		return failureTest(srv, a[0])
	})
}

// recoverMember is cluster/recover DB --force (issue 13, scope 2; ours, C
// has none): the member of DB, which lost its majority, becomes the only
// member of its cluster, as "ovsdb-tool --force cluster-recover" does on a
// stopped member. The member checks and names its file
// (Control "cluster/recover"); the database is then removed from the
// server (its clients see it go, as with ovsdb-server/remove-db), the
// file recovered (cluster.Recover) and served again (as add-db). If the
// recovery fails, the file is served again unchanged.
func recoverMember(srv *server.Server, a []string) (string, error) {
	if srv.Model(a[0]) != "clustered" {
		return "", errUnknownCluster
	}
	path, err := srv.Control(a[0], "cluster/recover", a[1:])
	if errors.Is(err, server.ErrNoDatabase) || errors.Is(err, server.ErrUnsupported) {
		return "", errUnknownCluster
	}
	if err != nil {
		return "", err
	}
	if err := srv.RemoveDatabase(a[0]); err != nil {
		return "", err
	}
	rerr := cluster.Recover(path, true)
	if err := srv.AddDatabase(path); err != nil {
		return "", fmt.Errorf("%s: not served after recovery: %w", path, errors.Join(rerr, err))
	}
	if rerr != nil {
		return "", rerr
	}
	return "recovered: this server is the only member of its cluster", nil
}

// failureTests are the scenarios of C's cluster/failure-test: each makes
// every Raft member of the process misbehave at one point of the
// protocol (crash there, delay its elections, stop its RPCs...).
var failureTests = map[string]bool{
	"crash-before-sending-append-request":          true,
	"crash-after-sending-append-request":           true,
	"crash-before-sending-execute-command-reply":   true,
	"crash-after-sending-execute-command-reply":    true,
	"crash-before-sending-execute-command-request": true,
	"crash-after-sending-execute-command-request":  true,
	"crash-after-receiving-append-request-update":  true,
	"crash-before-sending-install-snapshot-reply":  true,
	"delay-election":         true,
	"dont-send-vote-request": true,
	"stop-raft-rpc":          true,
	"transfer-leadership-after-sending-append-request": true,
	"transfer-leadership":                              true,
}

// clusteredDBs returns the names of the clustered databases, sorted.
func clusteredDBs(srv *server.Server) []string {
	var out []string
	for _, n := range srv.ListDatabases() {
		if srv.Model(n) == "clustered" {
			out = append(out, n)
		}
	}
	return out
}

// failureTest is cluster/failure-test SCENARIO: as C, one scenario for
// the whole process (no database argument), engaged on every clustered
// database; "clear" dismisses it. Each database's mode runs it as
// Control(db, "cluster/failure-test", [SCENARIO]); a mode without it
// (ErrUnsupported) makes the command fail rather than claim a test it
// does not run.
func failureTest(srv *server.Server, scenario string) (string, error) {
	if scenario != "clear" && !failureTests[scenario] {
		return "", errors.New("unknown test scenario")
	}
	var unsupported []string
	for _, db := range clusteredDBs(srv) {
		_, err := srv.Control(db, "cluster/failure-test", []string{scenario})
		switch {
		case err == nil, errors.Is(err, server.ErrNoDatabase):
		case errors.Is(err, server.ErrUnsupported):
			unsupported = append(unsupported, db)
		default:
			return "", err
		}
	}
	if scenario == "clear" {
		// Nothing is engaged where the mode has no failure tests.
		return "test dismissed", nil
	}
	if len(unsupported) > 0 {
		return "", fmt.Errorf("cluster/failure-test %s: failure tests are not supported yet by the Raft implementation of %s", scenario, strings.Join(unsupported, ", "))
	}
	return "test engaged", nil
}

// setBacklogThreshold is cluster/set-backlog-threshold DB N_MSGS N_BYTES
// with C's checks in C's order: the cluster, then both numbers (C's
// str_to_ullong: decimal, optional sign, a negative value wraps), then
// the range (N_MSGS at least 50). The member applies it as
// Control(db, "cluster/set-backlog-threshold", [N_MSGS, N_BYTES]) with
// both numbers in canonical decimal form.
func setBacklogThreshold(srv *server.Server, a []string) (string, error) {
	if srv.Model(a[0]) != "clustered" {
		return "", errUnknownCluster
	}
	nMsgs, ok1 := strToUllong(a[1])
	nBytes, ok2 := strToUllong(a[2])
	if !ok1 || !ok2 {
		return "", errors.New("invalid argument")
	}
	if nMsgs < 50 {
		return "", errors.New("values out of range")
	}
	out, err := srv.Control(a[0], "cluster/set-backlog-threshold",
		[]string{strconv.FormatUint(nMsgs, 10), strconv.FormatUint(nBytes, 10)})
	switch {
	case errors.Is(err, server.ErrNoDatabase):
		return "", errUnknownCluster
	case errors.Is(err, server.ErrUnsupported):
		return "", fmt.Errorf("cluster/set-backlog-threshold: not supported yet by the Raft implementation of %s", a[0])
	}
	return out, err
}

// strToUllong parses s as C's str_to_ullong(s, 10): strtoull's syntax
// (leading white space, an optional sign, decimal digits, nothing after;
// "-N" is 2^64-N) and failure on overflow.
func strToUllong(s string) (uint64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" || strings.TrimLeft(t, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}
