// The operations that change rows: insert, update, mutate and delete.

package ovsdb

import (
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// execInsert inserts one row ("uuid" or "uuid-name" naming it, else a new
// UUID) and answers its UUID.
func execInsert(x *txn, p *parser) (any, error) {
	t := x.parseTable(p, "table")
	uuidJS := p.member("uuid", kString|kOptional)
	nameJS := p.member("uuid-name", kID|kOptional)
	rowJS := p.member("row", kObject)
	if p.err != nil {
		return nil, p.err
	}
	var id schema.UUID
	if uuidJS != nil {
		u, err := schema.ParseUUID(uuidJS.(string))
		if err != nil {
			return nil, ovsdberr.Syntax(uuidJS, "bad uuid")
		}
		id = u
		if !x.mayCreate(t, id) {
			return nil, ovsdberr.WithSyntax("duplicate uuid", uuidJS,
				"This UUID would duplicate a UUID already present within the table or deleted within the same transaction.")
		}
	}
	if nameJS != nil {
		sym := x.symtab.insert(nameJS.(string))
		if sym.created {
			return nil, ovsdberr.WithSyntax(ovsdberr.TagDuplicateUUIDName, nameJS,
				"This \"uuid-name\" appeared on an earlier \"insert\" operation.")
		}
		if uuidJS != nil {
			sym.uuid = id
		} else {
			id = sym.uuid
		}
		sym.created = true
	} else if uuidJS == nil {
		id = x.newUUID()
	}
	if r, ok, err := x.newInsertRow(t, id, rowJS); ok {
		if err != nil {
			return nil, err
		}
		// As in C, an inserted row gets its _version now (whatever the
		// request said): later operations of the transaction see it, and
		// it is the row's _version after commit.
		if err := x.rbacInsert(t, r); err != nil {
			return nil, err
		}
		r.setVersion(x.newUUID())
		x.insert(t, r)
		return newInsertResult(id), nil
	}
	fields := t.newFields()
	if err := x.parseRowFields(rowJS, t, fields); err != nil {
		return nil, err
	}
	for _, c := range cColumns(t.ts) {
		if d := fields[c.Index]; len(d.Keys) == 1 {
			if err := schema.CheckDatum(&c.Type, d); err != nil {
				return nil, err
			}
		}
	}
	fields[schema.ColUUID] = schema.NewScalar(id)
	r := &Row{Fields: fields}
	if err := x.rbacInsert(t, r); err != nil {
		return nil, err
	}
	fields[schema.ColVersion] = schema.NewScalar(x.newUUID())
	x.insert(t, r)
	return newInsertResult(id), nil
}

// execUpdate sets the given columns of the rows matching "where" and
// answers their count (rows already equal are counted, not modified).
func execUpdate(x *txn, p *parser) (any, error) {
	t := x.parseTable(p, "table")
	where := p.member("where", kArray)
	rowJS := p.member("row", kObject)
	if p.err != nil {
		return nil, p.err
	}
	fields := make([]schema.Datum, len(t.ts.Columns))
	cols, err := x.parseRow(rowJS, t, fields)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		if !c.Mutable {
			return nil, ovsdberr.WithSyntax(ovsdberr.TagConstraint, p.js,
				"Cannot update immutable column %s in table %s.", c.Name, t.ts.Name)
		}
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	rows := x.query(t, conds)
	if err := x.rbacModify(t, cols, rows, false); err != nil {
		return nil, err
	}
	for _, r := range rows {
		same := true
		for _, c := range cols {
			if !r.Field(c.Index).Equal(fields[c.Index]) {
				same = false
				break
			}
		}
		if same {
			continue
		}
		nr := x.modify(t, r)
		for _, c := range cols {
			nr.Fields[c.Index] = fields[c.Index]
		}
	}
	return map[string]any{"count": int64(len(rows))}, nil
}

// execMutate applies "mutations" to the rows matching "where" and answers
// their count.
func execMutate(x *txn, p *parser) (any, error) {
	t := x.parseTable(p, "table")
	where := p.member("where", kArray)
	mutJS := p.member("mutations", kArray)
	if p.err != nil {
		return nil, p.err
	}
	muts, err := ParseMutations(t.ts, mutJS, x.symtab)
	if err != nil {
		return nil, err
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	rows := x.query(t, conds)
	if x.rbacChecked() {
		cols := make([]*schema.Column, len(muts))
		for i := range muts {
			cols[i] = muts[i].Column
		}
		if err := x.rbacModify(t, cols, rows, true); err != nil {
			return nil, err
		}
	}
	for _, r := range rows {
		nr := x.modify(t, r)
		if err := ApplyMutations(t.ts, muts, nr.Fields); err != nil {
			return nil, err
		}
	}
	return map[string]any{"count": int64(len(rows))}, nil
}

// execDelete deletes the rows matching "where" and answers their count.
func execDelete(x *txn, p *parser) (any, error) {
	where := p.member("where", kArray)
	t := x.parseTable(p, "table")
	if p.err != nil {
		return nil, p.err
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	rows := x.query(t, conds)
	if err := x.rbacDelete(t, rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		x.delete(t, r.UUID())
	}
	return map[string]any{"count": int64(len(rows))}, nil
}
