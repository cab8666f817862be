// Package raft replicates one database's transactions with hashicorp/raft
// among the members of a cluster. Package cluster builds the clustered
// replication mode (server.Mode) on it: a Member opens the stores of a
// clustered file and passes them to Open, as hashicorp's NewRaft takes
// its stores; this package opens no file.
//
// Each Raft log entry is one client transaction (Entry: transaction id,
// database name, operations, UUID seed, held asserted locks, time) or a
// batch of them: a member proposes everything its clients sent while its
// previous batch was being committed as one entry (group commit, batch.go),
// and the leader re-batches batches forwarded by followers. Every
// member's FSM executes committed transactions in order with the engine
// (ovsdb.Database.TransactOnce with a deterministic UUID source), so all
// members reach the same state; the FSM remembers recent transaction ids
// and answers a retried id with the old reply instead of executing it
// again. Node.Transact proposes writes on the leader or forwards them to
// it through a Forwarder, and replies once the member has applied the
// entry; read-only transactions run on the member's own state.
// An online conversion is an entry of its own carrying the new schema:
// every member converts its own state at that point of the log
// (Config.Convert, deterministically) and replaces its engine
// (FSM.EngineChanged); snapshots carry the schema of the state they copy.
// Snapshots copy the table maps under the engine's read lock and serialise
// them outside it. The position of every entry is recorded before it is
// applied (Config.AppliedLog), and Open applies the local log up to the
// last recorded one before serving, so a restarted member never serves an
// older state than it did before. Raft connections carry their target's
// server id (Transport, Mux): a member refuses RPCs meant for another id.
// A join at the address of a server that no longer answers replaces it
// (join.go). An arbiter member (Config.Arbiter, arbiter.go) stores the log
// and votes but executes nothing and never sends a snapshot. A write on a
// member without a leader ends after Config.NoLeaderWriteTimeout
// (ErrNoLeader). See DESIGN.md for the reasons.
package raft
