package raft

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// The members of this package's test clusters convert with C's rules, as
// the clustered mode's do (cluster passes Config.Convert).
func init() { defaultConvert = standalone.ConvertDatabaseWith }

// testSchemaV2 is testSchemaJSON converted: K loses w and gains x, and a
// table N is added.
const testSchemaV2JSON = `{"name":"T","version":"2.0.0","tables":{
 "K":{"columns":{"k":{"type":"string"},"x":{"type":{"key":"string","min":0,"max":1}}},"isRoot":true},
 "N":{"columns":{"n":{"type":"integer"}},"isRoot":true}}}`

func parseTestSchema(t testing.TB, text string) *schema.DatabaseSchema {
	s, err := schema.ParseSchemaBytes([]byte(text))
	require.NoError(t, err)
	return s
}

// convertEntry is a conversion entry to the schema text.
func convertEntry(t testing.TB, text string) *Entry {
	return &Entry{TxnID: schema.NewUUID(), Seed: [16]byte{1, 2, 3}, DB: "T",
		Schema: cjson.Marshal(parseTestSchema(t, text).CJSON())}
}

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func convertCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
	t.Cleanup(cancel)
	return ctx
}

func TestEntryConvertEncoding(t *testing.T) {
	e := convertEntry(t, testSchemaV2JSON)
	e.TimeMS, e.ElapsedMS = 1234, 5
	b := entryBytes(t, e)
	require.Equal(t, byte(convertVersion), b[0])
	d, err := DecodeEntry(b)
	require.NoError(t, err)
	require.Equal(t, e.TxnID, d.TxnID)
	require.Equal(t, e.Seed, d.Seed)
	require.Equal(t, "T", d.DB)
	require.Equal(t, e.TimeMS, d.TimeMS)
	require.Equal(t, string(e.Schema), string(d.Schema))
	require.Nil(t, d.Ops)
	// A conversion entry without a schema is corrupt.
	_, err = DecodeEntry(b[:len(b)-len(e.Schema)])
	require.Error(t, err)
	// Batched with transactions, it splits back unchanged.
	tx := entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")})
	parts, err := splitBatch(encodeBatch([][]byte{tx, b}))
	require.NoError(t, err)
	require.Equal(t, [][]byte{tx, b}, parts)
}

// TestConvertAppliedOnEveryMember: a conversion requested on a follower is
// forwarded, committed and applied by every member, which all compute the
// same converted rows (_version included) and replace their engine; the
// requester has applied it when Convert returns; the data is kept and the
// new schema is written to afterwards.
func TestConvertAppliedOnEveryMember(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	for i := 0; i < 5; i++ {
		require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("a%d", i))), 2)
	}
	c.converge()
	fi := (li + 1) % 3
	var changed []<-chan struct{}
	var old []*ovsdb.Database
	for i := range c.members {
		changed = append(changed, c.node(i).EngineChanged())
		old = append(old, c.node(i).Database())
	}
	c.within("convert", stepLimit, func() {
		require.NoError(t, c.node(fi).Convert(convertCtx(t), parseTestSchema(t, testSchemaV2JSON)))
	})
	require.Equal(t, "2.0.0", c.node(fi).Database().Schema().Version, "the requester serves the converted database when Convert returns")
	want := c.converge()
	for i := range c.members {
		n := c.node(i)
		require.True(t, closedWithin(changed[i], 10*time.Second), "member %d: EngineChanged not closed", i)
		require.NotSame(t, old[i], n.Database())
		require.Equal(t, "2.0.0", n.Database().Schema().Version)
		require.Equal(t, []string{"a0", "a1", "a2", "a3", "a4"}, keys(n.Database()))
		// The old engine is left as it was, for readers that held it.
		require.Equal(t, "1.0.0", old[i].Schema().Version)
		require.Len(t, keys(old[i]), 5)
	}
	require.Contains(t, want, `"x":["set",[]]`)
	require.NotContains(t, want, `"w":`)
	res := c.transact(c.node((li+2)%3), decodeOps(t, `[{"op":"insert","table":"N","row":{"n":7}},
		{"op":"update","table":"K","where":[["k","==","a0"]],"row":{"x":"y"}}]`))
	require.Len(t, res, 2)
	require.NotContains(t, string(cjson.Marshal(res)), "error")
	got := c.converge()
	require.Contains(t, got, `"n":7`)
	require.Contains(t, got, `"x":"y"`)
}

// TestConvertErrors: a conversion that cannot be done fails on the
// requesting member with C's error and proposes nothing.
func TestConvertErrors(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	for i := 0; i < 3; i++ {
		require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("a%d", i))), 2)
	}
	c.converge()
	fi := (li + 1) % 3
	n := c.node(fi)
	before, db := c.node(li).Raft().LastIndex(), n.Database()
	for _, tc := range []struct{ name, schema, err string }{
		{"name", strings.Replace(testSchemaV2JSON, `"T"`, `"U"`, 1),
			"invalid parameters: new schema name (U) does not match database name (T)"},
		{"type", strings.Replace(testSchemaJSON, `"k":{"type":"string"}`, `"k":{"type":"integer"}`, 1),
			"syntax error"},
		{"maxRows", strings.Replace(testSchemaJSON, `"isRoot":true`, `"isRoot":true,"maxRows":1`, 1),
			`constraint violation: transaction causes "K" table to contain 3 rows, greater than the schema-defined limit of 1 row(s)`},
		{"ephemeral", strings.Replace(testSchemaV2JSON, `"n":{"type":"integer"}`, `"n":{"type":"integer","ephemeral":true}`, 1),
			"syntax error: Table N column n is ephemeral but clustered databases do not support ephemeral columns."},
	} {
		err := n.Convert(convertCtx(t), parseTestSchema(t, tc.schema))
		require.Error(t, err, tc.name)
		require.True(t, strings.HasPrefix(err.Error(), tc.err), "%s: %v", tc.name, err)
	}
	require.Equal(t, before, c.node(li).Raft().LastIndex(), "nothing proposed")
	require.Same(t, db, n.Database())
}

// applyData applies data as the log entry at index idx.
func applyData(f *FSM, idx uint64, data []byte) any {
	return f.Apply(&hraft.Log{Index: idx, Term: 1, Type: hraft.LogCommand, Data: data})
}

// TestFSMConvertDedupeSnapshotRestore: the FSM applies a conversion entry
// once (a retried one, same transaction id, answers the remembered reply
// and leaves the engine alone); one that fails at apply changes nothing;
// a snapshot taken after a conversion carries the new schema and restores
// into an FSM of the old schema as the converted database (engine
// replaced, SchemaChanged told), dedupe table included; and a snapshot of
// the old schema restores an FSM that started on the new one.
func TestFSMConvertDedupeSnapshotRestore(t *testing.T) {
	f := NewFSM(testSchema(t), 0)
	var told []string
	f.schemaChanged = func(s *schema.DatabaseSchema) { told = append(told, s.Version) }
	for i := uint64(1); i <= 2; i++ {
		applyData(f, i, entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, fmt.Sprintf("k%d", i))}))
	}
	oldDump := dumpDB(f.Database())
	oldSnap := snapshotBytes(t, f)
	ch := f.EngineChanged()
	conv := entryBytes(t, convertEntry(t, testSchemaV2JSON))
	r := applyData(f, 3, conv).(*ApplyResult)
	require.NoError(t, r.Err)
	require.Equal(t, []any{map[string]any{}}, r.Reply)
	require.NoError(t, convertResult(r.Reply))
	require.True(t, closedWithin(ch, time.Second))
	require.Equal(t, []string{"2.0.0"}, told)
	converted := f.Database()
	convDump := dumpDB(converted)
	require.Equal(t, "2.0.0", converted.Schema().Version)
	require.Equal(t, []string{"k1", "k2"}, keys(converted))
	// The same entry retried at a later index: the remembered reply.
	r = applyData(f, 4, conv).(*ApplyResult)
	require.True(t, r.Duplicate)
	require.Same(t, converted, f.Database())
	// A conversion that fails at apply (K now has rows with k, which an
	// integer column cannot hold) answers the error, changes nothing.
	bad := entryBytes(t, convertEntry(t, strings.Replace(testSchemaV2JSON, `"k":{"type":"string"}`, `"k":{"type":"integer"}`, 1)))
	r = applyData(f, 5, bad).(*ApplyResult)
	require.NoError(t, r.Err)
	require.Error(t, convertResult(r.Reply))
	require.Contains(t, convertResult(r.Reply).Error(), "syntax error")
	require.Same(t, converted, f.Database())
	require.Equal(t, []string{"2.0.0"}, told)
	applyData(f, 6, entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T",
		Ops: decodeOps(t, `[{"op":"insert","table":"N","row":{"n":1}}]`)}))
	want := dumpDB(f.Database())

	snap := snapshotBytes(t, f)
	require.Contains(t, string(snap), `"version":"2.0.0"`)
	g := NewFSM(testSchema(t), 0)
	var gTold []string
	g.schemaChanged = func(s *schema.DatabaseSchema) { gTold = append(gTold, s.Version) }
	gOld, gch := g.Database(), g.EngineChanged()
	require.NoError(t, g.Restore(readCloser(snap)))
	require.NotSame(t, gOld, g.Database())
	require.True(t, closedWithin(gch, time.Second))
	require.Equal(t, []string{"2.0.0"}, gTold)
	require.Equal(t, "2.0.0", g.Database().Schema().Version)
	require.Equal(t, want, dumpDB(g.Database()))
	require.Equal(t, uint64(6), g.AppliedIndex())
	r = applyData(g, 7, conv).(*ApplyResult)
	require.True(t, r.Duplicate, "the dedupe table came with the snapshot")
	// A snapshot of the current schema keeps the engine.
	same := g.Database()
	require.NoError(t, g.Restore(readCloser(snap)))
	require.Same(t, same, g.Database())

	// An FSM started on the new schema (a member whose file records it)
	// restoring a snapshot from before the conversion serves the old
	// schema until it applies the conversion again.
	h := NewFSM(parseTestSchema(t, testSchemaV2JSON), 0)
	require.NoError(t, h.Restore(readCloser(oldSnap)))
	require.Equal(t, "1.0.0", h.Database().Schema().Version)
	require.Equal(t, oldDump, dumpDB(h.Database()))
	require.NoError(t, convertResult(applyData(h, 3, conv).(*ApplyResult).Reply))
	require.Equal(t, convDump, dumpDB(h.Database()), "same conversion, same rows and _versions")
}

func snapshotBytes(t *testing.T, f *FSM) []byte {
	s, err := f.Snapshot()
	require.NoError(t, err)
	var sink memSink
	require.NoError(t, s.Persist(&sink))
	return append([]byte(nil), sink.Bytes()...)
}

type bytesReadCloser struct{ *strings.Reader }

func (bytesReadCloser) Close() error { return nil }

func readCloser(b []byte) bytesReadCloser { return bytesReadCloser{strings.NewReader(string(b))} }

// TestConvertMemberRestart: a member down while the cluster converts
// catches up from the log, or from a snapshot taken after the conversion
// when the log no longer holds it, and serves the converted schema and
// data; a member restarted after applying the conversion serves it as
// soon as it is open (its own log replayed), before it hears from anyone.
func TestConvertMemberRestart(t *testing.T) {
	for _, viaSnapshot := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", viaSnapshot), func(t *testing.T) {
			c := newCluster(t, 3, 8)
			li := c.leader()
			for i := 0; i < 5; i++ {
				require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("a%d", i))), 2)
			}
			c.converge()
			down := (li + 1) % 3
			c.stop(down)
			li = c.leader()
			c.within("convert", stepLimit, func() {
				require.NoError(t, c.node(li).Convert(convertCtx(t), parseTestSchema(t, testSchemaV2JSON)))
			})
			convIndex := c.node(li).AppliedIndex()
			n := 1
			if viaSnapshot {
				n = 30 // past the snapshot threshold and the trailing logs
			}
			for i := 0; i < n; i++ {
				res := c.transact(c.node(li), decodeOps(t, fmt.Sprintf(`[{"op":"insert","table":"N","row":{"n":%d}}]`, i)))
				require.NotContains(t, string(cjson.Marshal(res)), "error")
			}
			if viaSnapshot {
				require.NoError(t, c.node(li).Raft().Snapshot().Error())
				first, err := c.members[li].logs.FirstIndex()
				require.NoError(t, err)
				require.Greater(t, first, convIndex, "the leader's log no longer holds the conversion")
			}
			c.start(down)
			want := c.converge()
			if viaSnapshot {
				if nl := c.leader(); nl != li {
					// Under load the leadership may move to the other
					// follower, whose log may still hold the conversion:
					// then the member catches up from the log.
					t.Logf("leader changed (%d -> %d): InstallSnapshot not required", li, nl)
				} else {
					// hashicorp/raft records the installed snapshot just
					// after the FSM's Restore, which converge saw.
					c.eventually("caught up by InstallSnapshot", func() bool {
						return c.node(down).Raft().Stats()["last_snapshot_index"] != "0"
					})
				}
			}
			require.Equal(t, "2.0.0", c.node(down).Database().Schema().Version)
			require.Contains(t, want, fmt.Sprintf(`"n":%d`, n-1))
			require.Equal(t, []string{"a0", "a1", "a2", "a3", "a4"}, keys(c.node(down).Database()))

			// Restarted after applying it: serves it at once, alone.
			other := (c.leader() + 1) % 3
			c.stop(other)
			c.startIsolated(other)
			require.Equal(t, "2.0.0", c.node(other).Database().Schema().Version)
			require.Equal(t, want, dumpDB(c.node(other).Database()))
			c.connect(other)
			c.converge()
		})
	}
}
