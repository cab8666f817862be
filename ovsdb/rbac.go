// Role-based access control (RBAC) of writes, as C's ovsdb/rbac.c does it
// for databases with an RBAC_Role table (OVN's Southbound database).
//
// Who is asking comes from TransactOptions (Role, ClientID): the engine
// knows nothing of sessions. The RBAC tables are read from the database
// as the transaction sees it when the operation executes (rows changed by
// earlier operations of the same transaction included), so every Raft
// member, executing the same entry on the same state, decides the same.
//
// The rules (C's): reads are never restricted; a session without a role,
// or a database without an RBAC_Role table, is not restricted; otherwise a
// write is refused when the session has no id, when its role has no
// RBAC_Role row or that row no "permissions" entry for the table, or when
// the RBAC_Permission row does not allow it:
//   - insert: the new row must be authorized and insert_delete true;
//   - delete: every row the condition matches must be authorized, and
//     insert_delete true;
//   - update and mutate: every row the condition matches must be
//     authorized, and every column updated or mutated must be listed in
//     "update".
//
// A row is authorized when one of the "authorization" entries is "" (any
// client), or names a string column ("name") or a key of a string map
// column ("external_ids:chassis") whose value is the client id.

package ovsdb

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// tableRow is a row with its table's schema (rows do not know their table).
type tableRow struct {
	ts  *schema.Table
	row *Row
}

// rbacClient is who is asking: TransactOptions' Role and ClientID.
type rbacClient struct {
	role  string
	id    string
	hasID bool
}

// idText is the id as C's messages print it: a missing id is "(null)".
func (c rbacClient) idText() string {
	if !c.hasID {
		return "(null)"
	}
	return c.id
}

// rbacChecked reports whether x's writes are subject to RBAC: the session
// has a role and the database an RBAC_Role table.
func (x *txn) rbacChecked() bool {
	return x.rbac.role != "" && x.db.tables["RBAC_Role"] != nil
}

// rbacInsert checks the insertion of row r into t (C's ovsdb_rbac_insert).
func (x *txn) rbacInsert(t *table, r *Row) error {
	if !x.rbacChecked() {
		return nil
	}
	if x.rbac.hasID {
		if perms, ok := x.rbacPerms(t.ts.Name); ok && x.rbacAuthorized(perms, tableRow{t.ts, r}) {
			if insdel, ok := readBool(perms, "insert_delete"); ok && insdel {
				return nil
			}
		}
	}
	return x.rbacError("prohibit row insertion into table \"%s\".", t.ts.Name)
}

// rbacDelete checks the deletion of rows, the rows of t a delete's
// condition matches (C's ovsdb_rbac_delete).
func (x *txn) rbacDelete(t *table, rows []*Row) error {
	if !x.rbacChecked() {
		return nil
	}
	if x.rbac.hasID {
		if perms, ok := x.rbacPerms(t.ts.Name); ok && x.rbacAll(perms, t, rows, func() bool {
			insdel, ok := readBool(perms, "insert_delete")
			return ok && insdel
		}) {
			return nil
		}
	}
	return x.rbacError("prohibit row deletion from table \"%s\".", t.ts.Name)
}

// rbacModify checks an update (mutate false) or a mutate of cols of rows,
// the rows of t its condition matches (C's ovsdb_rbac_update and
// ovsdb_rbac_mutate).
func (x *txn) rbacModify(t *table, cols []*schema.Column, rows []*Row, mutate bool) error {
	if !x.rbacChecked() {
		return nil
	}
	if x.rbac.hasID {
		if perms, ok := x.rbacPerms(t.ts.Name); ok {
			if upd, ok := stringSet(perms, "update"); ok && x.rbacAll(perms, t, rows, func() bool {
				for _, c := range cols {
					if !containsString(upd, c.Name) {
						return false
					}
				}
				return true
			}) {
				return nil
			}
		}
	}
	if mutate {
		return x.rbacError("prohibit mutate operation on table \"%s\".", t.ts.Name)
	}
	return x.rbacError("prohibit modification of table \"%s\".", t.ts.Name)
}

// rbacAll reports whether every row is authorized and allowed (checked
// per row, as C's query callback does; no rows: true).
func (x *txn) rbacAll(perms tableRow, t *table, rows []*Row, allowed func() bool) bool {
	for _, r := range rows {
		if !x.rbacAuthorized(perms, tableRow{t.ts, r}) || !allowed() {
			return false
		}
	}
	return true
}

// rbacError is C's permission error, naming the client and its role.
func (x *txn) rbacError(format, tableName string) error {
	return ovsdberr.New(ovsdberr.TagPermissionDenied, "RBAC rules for client \"%s\" role \"%s\" "+format,
		x.rbac.idText(), x.rbac.role, tableName)
}

// rbacPerms returns the RBAC_Permission row that the session's role has
// for the table named tableName, if any (C's ovsdb_rbac_lookup_perms).
func (x *txn) rbacPerms(tableName string) (tableRow, bool) {
	rt := x.db.tables["RBAC_Role"]
	role := x.roleRow(rt)
	if role == nil {
		rbacLog("rbac: role \"%s\" not found in rbac roles table", x.rbac.role)
		return tableRow{}, false
	}
	c := rt.ts.Column("permissions")
	if c == nil {
		rbacLog("rbac: \"permissions\" column not present in rbac roles table")
		return tableRow{}, false
	}
	if c.Type.Key.Type != schema.TypeString || c.Type.Value == nil ||
		c.Type.Value.Type != schema.TypeUUID || c.Type.Value.RefTableName == "" {
		return tableRow{}, false
	}
	ref := x.db.tables[c.Type.Value.RefTableName]
	if ref == nil {
		return tableRow{}, false
	}
	d := role.Field(c.Index)
	for i, k := range d.Keys {
		if k.(string) == tableName {
			r := x.get(ref, d.Values[i].(schema.UUID))
			return tableRow{ref.ts, r}, r != nil
		}
	}
	return tableRow{}, false
}

// roleRow returns the RBAC_Role row whose "name" holds the session's role.
// C takes the first it meets in its hash table; if several rows have the
// name, this takes the one with the smallest _uuid, the same on every
// member (see conformance/DIFFERENCES.md).
func (x *txn) roleRow(rt *table) *Row {
	c := rt.ts.Column("name")
	if c == nil || c.Type.Key.Type != schema.TypeString {
		return nil
	}
	var found *Row
	x.scan(rt, func(r *Row) bool {
		for _, k := range r.Field(c.Index).Keys {
			if s := k.(string); s != "" && s == x.rbac.role {
				if found == nil || uuidLess(r.UUID(), found.UUID()) {
					found = r
				}
				break
			}
		}
		return true
	})
	return found
}

func uuidLess(a, b schema.UUID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// rbacAuthorized reports whether row r is authorized for the client by
// perms' "authorization" column (C's ovsdb_rbac_authorized).
func (x *txn) rbacAuthorized(perms, r tableRow) bool {
	names, ok := stringSet(perms, "authorization")
	if !ok {
		rbacLog("rbac: error reading authorization column")
		return false
	}
	for _, name := range names {
		if name == "" {
			return true // any client
		}
		var value string
		var found bool
		if strings.IndexByte(name, ':') >= 0 {
			// C splits with strtok: empty fields are skipped and a third
			// field is ignored.
			f := strings.FieldsFunc(name, func(r rune) bool { return r == ':' })
			if len(f) >= 2 {
				value, found = readMapString(r, f[0], f[1])
			}
		} else {
			value, found = readString(r, name)
		}
		if found && value == x.rbac.id {
			return true
		}
	}
	return false
}

// column returns r's column name if its type has the given key and value
// types (TypeVoid: not a map) and maximum size, as C's ovsdb_util_get_datum
// requires.
func column(r tableRow, name string, key, value schema.AtomicType, max int) (schema.Datum, bool) {
	c := r.ts.Column(name)
	if c == nil || c.Type.Key.Type != key || c.Type.Max != max {
		return schema.Datum{}, false
	}
	if (c.Type.Value == nil) != (value == schema.TypeVoid) ||
		(c.Type.Value != nil && c.Type.Value.Type != value) {
		return schema.Datum{}, false
	}
	return r.row.Field(c.Index), true
}

// readString is C's ovsdb_util_read_string_column: a string column of at
// most one element, with a value.
func readString(r tableRow, name string) (string, bool) {
	d, ok := column(r, name, schema.TypeString, schema.TypeVoid, 1)
	if !ok || len(d.Keys) == 0 {
		return "", false
	}
	return d.Keys[0].(string), true
}

// readBool is C's ovsdb_util_read_bool_column.
func readBool(r tableRow, name string) (bool, bool) {
	d, ok := column(r, name, schema.TypeBoolean, schema.TypeVoid, 1)
	if !ok || len(d.Keys) == 0 {
		return false, false
	}
	return d.Keys[0].(bool), true
}

// readMapString is C's ovsdb_util_read_map_string_column: the value of key
// in an unlimited string-to-string map column.
func readMapString(r tableRow, name, key string) (string, bool) {
	d, ok := column(r, name, schema.TypeString, schema.TypeString, schema.Unlimited)
	if !ok {
		return "", false
	}
	for i, k := range d.Keys {
		if k.(string) == key {
			return d.Values[i].(string), true
		}
	}
	return "", false
}

// stringSet returns the strings of an unlimited string set column.
func stringSet(r tableRow, name string) ([]string, bool) {
	d, ok := column(r, name, schema.TypeString, schema.TypeVoid, schema.Unlimited)
	if !ok {
		return nil, false
	}
	out := make([]string, len(d.Keys))
	for i, k := range d.Keys {
		out[i] = k.(string)
	}
	return out, true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// rbacLogged is when rbacLog last logged (unix ns): C rate-limits these
// messages to about one a second.
var rbacLogged atomic.Int64

func rbacLog(format string, args ...any) {
	now := time.Now().UnixNano()
	last := rbacLogged.Load()
	if now-last < int64(time.Second) || !rbacLogged.CompareAndSwap(last, now) {
		return
	}
	slog.Default().With("module", "ovsdb_rbac").Info(fmt.Sprintf(format, args...))
}
