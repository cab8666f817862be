package ovsdb

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseRowFieldsMatchesParseRow checks that the unordered fast path
// fills the same fields and reports the same (C-ordered) first error as
// parseRow.
func TestParseRowFieldsMatchesParseRow(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	tbl := db.tables["Parent"]
	rows := []string{
		`{}`,
		`{"name":"a"}`,
		`{"name":"a","n":3,"tags":["map",[["x","y"]]]}`,
		`{"name":1}`,
		`{"nosuch":1}`,
		`{"name":1,"n":"x","tags":7,"nosuch":1,"zzz":2}`,
		`{"name":"a","n":"bad","color":"nocolor","imm":["x"]}`,
		`{"name":"a","kids":["named-uuid","k"],"fav":["named-uuid","f"]}`,
		`[1]`,
	}
	for _, js := range rows {
		t.Run(js, func(t *testing.T) {
			row := decode(t, js)
			x1, x2 := newTxn(db), newTxn(db)
			f1, f2 := tbl.newFields(), tbl.newFields()
			_, err1 := x1.parseRow(row, tbl, f1)
			err2 := x2.parseRowFields(row, tbl, f2)
			if err1 != nil {
				require.Error(t, err2)
				require.Equal(t, err1.Error(), err2.Error())
				return
			}
			require.NoError(t, err2)
			require.Equal(t, len(f1), len(f2))
			for i := range f1 {
				// Named UUIDs differ between the two transactions.
				if tbl.ts.Columns[i].Type.Key.RefTableName != "" {
					require.Equal(t, len(f1[i].Keys), len(f2[i].Keys))
					continue
				}
				require.True(t, f1[i].Equal(f2[i]), "column %d", i)
			}
		})
	}
}
