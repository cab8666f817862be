package raft

import (
	"bytes"
	"errors"
	"io"
	"testing"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// An arbiter's FSM records the index of each entry and executes nothing;
// its snapshot holds no data, a data member refuses to restore it, and
// the arbiter restores a data member's snapshot by reading past it.
func TestArbiterFSM(t *testing.T) {
	arb := NewFSM(testSchema(t), 0)
	arb.arbiter = true
	e := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")}
	r := arb.Apply(&hraft.Log{Index: 7, Type: hraft.LogCommand, Data: entryBytes(t, e)}).(*ApplyResult)
	require.ErrorIs(t, r.Err, ErrArbiter)
	require.Equal(t, uint64(7), arb.AppliedIndex())
	require.Empty(t, keys(arb.Database()), "an arbiter executes nothing")

	snap, err := arb.Snapshot()
	require.NoError(t, err)
	var sink memSink
	require.NoError(t, snap.Persist(&sink))
	require.Equal(t, `{"arbiter":true,"index":7}`, sink.String())

	data := NewFSM(testSchema(t), 0)
	data.Apply(&hraft.Log{Index: 3, Type: hraft.LogCommand, Data: entryBytes(t, e)})
	err = data.Restore(io.NopCloser(bytes.NewReader(sink.Bytes())))
	require.ErrorIs(t, err, ErrArbiter, "a data member must refuse an arbiter's snapshot")
	require.Equal(t, []string{"a"}, keys(data.Database()), "the refused snapshot changed nothing")

	// A data member's snapshot is drained by an arbiter, keeping its index.
	dsnap, err := data.Snapshot()
	require.NoError(t, err)
	var dsink memSink
	require.NoError(t, dsnap.Persist(&dsink))
	arb2 := NewFSM(testSchema(t), 0)
	arb2.arbiter = true
	require.NoError(t, arb2.Restore(io.NopCloser(bytes.NewReader(dsink.Bytes()))))
	require.Equal(t, uint64(3), arb2.AppliedIndex())
	require.Empty(t, keys(arb2.Database()))
}

// An arbiter's snapshot store never opens the arbiter's own snapshots
// (they would be sent as empty databases), but opens a data member's
// snapshot it received.
func TestArbiterSnapshotStore(t *testing.T) {
	inner := hraft.NewInmemSnapshotStore()
	store := arbiterSnapshots{inner}
	put := func(body string) string {
		s, err := store.Create(1, 5, 1, hraft.Configuration{}, 1, nil)
		require.NoError(t, err)
		_, err = s.Write([]byte(body))
		require.NoError(t, err)
		require.NoError(t, s.Close())
		return s.ID()
	}
	id := put(`{"arbiter":true,"index":5}`)
	_, _, err := store.Open(id)
	require.True(t, errors.Is(err, ErrArbiter), "%v", err)

	id = put(`{"version":1,"index":5,"data":{}}`)
	_, rc, err := store.Open(id)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, `{"version":1,"index":5,"data":{}}`, string(b))
}
