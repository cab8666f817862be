// Package cluster is the clustered replication mode of a served database:
// a Member is one Raft member (package raft) of a clustered database file
// (storage/raftstore), implementing server.Mode.
//
// Beyond what package raft does (replicating and applying transactions),
// a Member owns what C's ovsdb-server does around its Raft: joining a
// cluster (learning its schema and id, asking to be added), leaving it and
// kicking others (cluster/leave, cluster/kick), noticing its own removal,
// the election timer (cluster/change-election-timer), cluster/status and
// the member's row in _Server.Database.
//
// Files: member.go (opening, joining, transactions, closing), ops.go
// (membership operations), rpc.go (the member-level cluster RPCs),
// status.go (observations, cluster/status, _Server facts), control.go
// (ovs-appctl commands, memory/show, the server.Opener), convert.go
// (online conversion through the Raft log),
// create.go (making the files of a new cluster or a joining member:
// Create, Join; ovsdb-tool create-cluster and join-cluster use them),
// failure.go (cluster/failure-test and set-backlog-threshold), recover.go
// (a survivor that lost its majority made a one-member cluster:
// ovsdb-tool cluster-recover and cluster/recover), arbiter.go (an arbiter
// member: votes and stores the log, holds no data, refuses clients),
// peers.go (which other servers are arbiters; which do not answer while
// there is no leader, for cluster/status).
package cluster
