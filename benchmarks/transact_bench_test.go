package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// maxRows bounds the table size of the insert benchmarks: past it the
// database is recreated (outside the timer) so memory stays bounded for
// large b.N.
const maxRows = 200_000

// seedRows is the table size for the update and select benchmarks.
const seedRows = 1000

func loadSchema(tb testing.TB) *schema.DatabaseSchema {
	tb.Helper()
	data, err := os.ReadFile("testdata/bench.ovsschema")
	require.NoError(tb, err)
	s, err := schema.ParseSchemaBytes(data)
	require.NoError(tb, err)
	return s
}

// decodeOps decodes transact params (after the db name) the way the server
// does: json.Number for numbers.
func decodeOps(tb testing.TB, js string) []any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.UseNumber()
	var ops []any
	require.NoError(tb, dec.Decode(&ops))
	return ops
}

// checkResult fails the benchmark if the result is not one non-error
// object per op. Elements are checked through their wire form (the engine
// may return pre-serialised result values).
func checkResult(tb testing.TB, res []any, nops int) {
	if len(res) != nops {
		tb.Fatalf("result has %d elements, want %d: %v", len(res), nops, res)
	}
	var wire []any
	if err := json.Unmarshal(cjson.Marshal(res), &wire); err != nil {
		tb.Fatalf("result does not serialise: %v", err)
	}
	for _, r := range wire {
		m, ok := r.(map[string]any)
		if !ok {
			tb.Fatalf("unexpected result element %T: %v", r, r)
		}
		if _, bad := m["error"]; bad {
			tb.Fatalf("operation failed: %s", cjson.Marshal(res))
		}
	}
}

func insertOps(tb testing.TB, prefix string, n int) []any {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"op":"insert","table":"Item","row":{"name":"%s-%d","value":%d,"external_ids":["map",[["k","v%d"]]]}}`,
			prefix, i, i, i)
	}
	b.WriteByte(']')
	return decodeOps(tb, b.String())
}

// seed makes a database holding seedRows rows named "n-<i>" with value i.
func seed(tb testing.TB) *ovsdb.Database {
	db := ovsdb.NewDatabase(loadSchema(tb), ovsdb.NopCommitter{})
	ops := insertOps(tb, "n", seedRows)
	checkResult(tb, db.Transact(context.Background(), ops, ovsdb.TransactOptions{}), seedRows)
	return db
}

// benchInsert inserts rowsPerTxn rows per transaction. Names repeat across
// transactions, so the "name" index would reject them: each transaction
// uses its own prefix instead, generated outside the timer in batches.
func benchInsert(b *testing.B, rowsPerTxn int) {
	s := loadSchema(b)
	db := ovsdb.NewDatabase(s, ovsdb.NopCommitter{})
	ctx := context.Background()
	const batch = 256
	var pending [][]any
	rows := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(pending) == 0 || rows+rowsPerTxn > maxRows {
			b.StopTimer()
			if rows+rowsPerTxn > maxRows {
				db = ovsdb.NewDatabase(s, ovsdb.NopCommitter{})
				rows = 0
			}
			if len(pending) == 0 {
				pending = make([][]any, batch)
				for j := range pending {
					pending[j] = insertOps(b, "t"+strconv.Itoa(i+j), rowsPerTxn)
				}
			}
			b.StartTimer()
		}
		ops := pending[0]
		pending = pending[1:]
		res := db.Transact(ctx, ops, ovsdb.TransactOptions{})
		checkResult(b, res, rowsPerTxn)
		rows += rowsPerTxn
	}
	b.ReportMetric(float64(b.N*rowsPerTxn)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkTransactInsert1(b *testing.B)   { benchInsert(b, 1) }
func BenchmarkTransactInsert100(b *testing.B) { benchInsert(b, 100) }

// BenchmarkTransactInsert1Parallel runs single-row inserts from
// GOMAXPROCS goroutines against one database (contention on the write
// path).
func BenchmarkTransactInsert1Parallel(b *testing.B) {
	db := ovsdb.NewDatabase(loadSchema(b), ovsdb.NopCommitter{})
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			// Built inside the loop (cannot stop the timer in RunParallel);
			// the decode cost is a small share of the transaction.
			ops := decodeOps(b, `[{"op":"insert","table":"Item","row":{"name":"p-`+strconv.FormatInt(n, 10)+`","value":1}}]`)
			checkResult(b, db.Transact(ctx, ops, ovsdb.TransactOptions{}), 1)
		}
	})
}

// BenchmarkTransactUpdateWhere updates one row of seedRows selected by a
// condition on the non-indexed integer column (a table scan in a naive
// engine), setting a map column.
func BenchmarkTransactUpdateWhere(b *testing.B) {
	db := seed(b)
	ctx := context.Background()
	ops := make([]([]any), seedRows)
	for i := range ops {
		ops[i] = decodeOps(b, fmt.Sprintf(
			`[{"op":"update","table":"Item","where":[["value","==",%d]],"row":{"external_ids":["map",[["k","u%d"]]]}}]`, i, i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := db.Transact(ctx, ops[i%seedRows], ovsdb.TransactOptions{})
		checkResult(b, res, 1)
		if c := res[0].(map[string]any)["count"]; fmt.Sprint(c) != "1" {
			b.Fatalf("update count %v, want 1", c)
		}
	}
}

// BenchmarkTransactUpdateByName updates one row selected by the indexed
// "name" column.
func BenchmarkTransactUpdateByName(b *testing.B) {
	db := seed(b)
	ctx := context.Background()
	ops := make([]([]any), seedRows)
	for i := range ops {
		ops[i] = decodeOps(b, fmt.Sprintf(
			`[{"op":"update","table":"Item","where":[["name","==","n-%d"]],"row":{"value":%d}}]`, i, i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := db.Transact(ctx, ops[i%seedRows], ovsdb.TransactOptions{})
		checkResult(b, res, 1)
	}
}

// BenchmarkTransactSelectOne selects one row by the indexed name.
func BenchmarkTransactSelectOne(b *testing.B) {
	db := seed(b)
	ctx := context.Background()
	ops := make([]([]any), seedRows)
	for i := range ops {
		ops[i] = decodeOps(b, fmt.Sprintf(`[{"op":"select","table":"Item","where":[["name","==","n-%d"]]}]`, i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := db.Transact(ctx, ops[i%seedRows], ovsdb.TransactOptions{})
		checkResult(b, res, 1)
		if rows, _ := res[0].(map[string]any)["rows"].([]any); len(rows) != 1 {
			b.Fatalf("select returned %d rows, want 1", len(rows))
		}
	}
}

// BenchmarkTransactSelectAll selects every column of all seedRows rows.
func BenchmarkTransactSelectAll(b *testing.B) {
	db := seed(b)
	ctx := context.Background()
	ops := decodeOps(b, `[{"op":"select","table":"Item","where":[]}]`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := db.Transact(ctx, ops, ovsdb.TransactOptions{})
		checkResult(b, res, 1)
		if rows, _ := res[0].(map[string]any)["rows"].([]any); len(rows) != seedRows {
			b.Fatalf("select returned %d rows, want %d", len(rows), seedRows)
		}
	}
}

// TestBenchWorkloadsValid runs each benchmark body's transactions once so
// `go test` (without -bench) checks that the workloads are accepted by the
// engine and produce the expected results.
func TestBenchWorkloadsValid(t *testing.T) {
	db := seed(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		ops   string
		check func(t *testing.T, res []any)
	}{
		{"insert", `[{"op":"insert","table":"Item","row":{"name":"new","value":7}}]`, func(t *testing.T, res []any) {
			require.Contains(t, res[0], "uuid")
		}},
		{"update where value", `[{"op":"update","table":"Item","where":[["value","==",3]],"row":{"external_ids":["map",[["k","x"]]]}}]`,
			func(t *testing.T, res []any) { require.Equal(t, "1", fmt.Sprint(res[0].(map[string]any)["count"])) }},
		{"update by name", `[{"op":"update","table":"Item","where":[["name","==","n-5"]],"row":{"value":500}}]`,
			func(t *testing.T, res []any) { require.Equal(t, "1", fmt.Sprint(res[0].(map[string]any)["count"])) }},
		{"select one", `[{"op":"select","table":"Item","where":[["name","==","n-5"]],"columns":["value"]}]`,
			func(t *testing.T, res []any) {
				rows := res[0].(map[string]any)["rows"].([]any)
				require.Len(t, rows, 1)
				require.Equal(t, "500", fmt.Sprint(rows[0].(map[string]any)["value"]))
			}},
		{"select all", `[{"op":"select","table":"Item","where":[]}]`, func(t *testing.T, res []any) {
			require.Len(t, res[0].(map[string]any)["rows"], seedRows+1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := db.Transact(ctx, decodeOps(t, tc.ops), ovsdb.TransactOptions{})
			checkResult(t, res, 1)
			tc.check(t, decodeOps(t, string(cjson.Marshal(res))))
		})
	}
}
