package ovsdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// nbSchemaPath is the OVN northbound schema the load generator uses.
const nbSchemaPath = "/usr/share/ovn/ovn-nb.ovsschema"

// insertNBOps builds the loadgen "insert100" request: n Logical_Switch
// inserts with only "name" set, decoded as the server decodes it.
func insertNBOps(tb testing.TB, prefix string, n int) []any {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"op":"insert","table":"Logical_Switch","row":{"name":"%s-%d"}}`, prefix, i)
	}
	b.WriteByte(']')
	dec := json.NewDecoder(&b)
	dec.UseNumber()
	var ops []any
	require.NoError(tb, dec.Decode(&ops))
	return ops
}

// BenchmarkInsert100NB measures the engine's cost of the loadgen insert100
// transaction and reports the live heap kept per committed row.
func BenchmarkInsert100NB(b *testing.B) {
	data, err := os.ReadFile(nbSchemaPath)
	if err != nil {
		b.Skip("OVN northbound schema not installed")
	}
	s, err := schema.ParseSchemaBytes(data)
	require.NoError(b, err)
	db := NewDatabase(s, nil)
	reqs := make([][]any, 64)
	for i := range reqs {
		reqs[i] = insertNBOps(b, fmt.Sprintf("ls%d", i), 100)
	}
	// Live heap per committed row, measured once on a fresh database.
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for _, ops := range reqs {
		db.Transact(context.Background(), ops, TransactOptions{})
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	live := float64(int64(ms.HeapAlloc)-int64(before)) / float64(100*len(reqs))
	runtime.KeepAlive(db)
	db = NewDatabase(s, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(reqs) == 0 && i > 0 {
			b.StopTimer()
			db = NewDatabase(s, nil)
			b.StartTimer()
		}
		res := db.Transact(context.Background(), reqs[i%len(reqs)], TransactOptions{})
		if len(res) != 100 {
			b.Fatalf("result %v", res)
		}
	}
	b.StopTimer()
	b.ReportMetric(live, "live-B/row")
	runtime.KeepAlive(db)
}
