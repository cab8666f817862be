package main

import (
	"errors"

	"github.com/ovsdb-go/ovsdb-server/cluster"
)

// clusterRecover: [--force] cluster-recover DB. It makes the member file
// DB, whose cluster lost its majority, the file of a one-member cluster of
// the same cluster id that keeps every entry the member holds
// (cluster.Recover); new or wiped members then join it with join-cluster.
// Without --force it refuses and changes nothing; it also refuses while a
// server runs on DB (the file is locked).
func (t *tool) clusterRecover(args []string) error {
	path := args[1]
	if !ours(path) {
		if isCClustered(path) {
			return fatalf("%s: C clustered database files cannot be recovered with this command", path)
		}
		return fatalf("%s: not a clustered database file of this server", path)
	}
	err := cluster.Recover(path, t.force)
	if errors.Is(err, cluster.ErrRecoverNotForced) {
		return fatalf("%s", err.Error())
	}
	return err
}
