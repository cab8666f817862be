package activebackup

import (
	"fmt"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// BenchmarkInitialSync: a backup takes 20,000 rows from an active server
// (both in-process, one transaction of inserts on the backup).
func BenchmarkInitialSync(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := newNode(b, testSchema, server.Options{})
		var ops []any
		for j := 0; j < 20000; j++ {
			ops = append(ops, map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": fmt.Sprint("i", j),
				"tags": []any{"set", []any{"a", "b"}}, "attrs": []any{"map", []any{[]any{"k", fmt.Sprint(j)}}}}})
		}
		a.mustTransact(ops...)
		bk := newNode(b, testSchema, server.Options{})
		bk.repl.SetActiveServer("unix:" + a.sock)
		b.StartTimer()
		if err := bk.repl.Connect(); err != nil {
			b.Fatal(err)
		}
		eventually(b, "replicating", bk.replicating)
	}
}

// BenchmarkPlanInitial: the plan and operations of 20,000 rows' initial
// contents into an empty database.
func BenchmarkPlanInitial(b *testing.B) {
	sch, err := schema.ParseSchemaBytes([]byte(testSchema))
	if err != nil {
		b.Fatal(err)
	}
	rows := map[string]any{}
	for j := 0; j < 20000; j++ {
		rows[schema.NewUUID().String()] = map[string]any{"initial": map[string]any{"name": fmt.Sprint("i", j),
			"tags": []any{"set", []any{"a", "b"}}, "attrs": []any{"map", []any{[]any{"k", fmt.Sprint(j)}}}}}
	}
	upd := map[string]any{"Item": rows}
	tables := map[string]map[schema.UUID]*ovsdb.Row{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := planFull(sch, tables, []string{"Item", "Kid"}, upd, true, func(error) {})
		if err != nil {
			b.Fatal(err)
		}
		if ops := p.ops(sch, tables, nil); len(ops) != 20000 {
			b.Fatal(len(ops))
		}
	}
}
