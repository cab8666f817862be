package schema

import "github.com/ovsdb-go/ovsdb-server/ovsdberr"

// walkDiff merges the sorted keys of old and new. It calls onlyOld(i) for a
// key only in old, onlyNew(j) for a key only in new and, for maps,
// changed(i, j) for a key whose value differs.
func walkDiff(old, new Datum, isMap bool, onlyOld, onlyNew func(int), changed func(i, j int)) {
	i, j := 0, 0
	for i < len(old.Keys) || j < len(new.Keys) {
		var c int
		switch {
		case i == len(old.Keys):
			c = 1
		case j == len(new.Keys):
			c = -1
		default:
			c = CompareAtoms(old.Keys[i], new.Keys[j])
		}
		switch {
		case c < 0:
			onlyOld(i)
			i++
		case c > 0:
			onlyNew(j)
			j++
		default:
			if isMap && CompareAtoms(old.Values[i], new.Values[j]) != 0 {
				changed(i, j)
			}
			i++
			j++
		}
	}
}

// appendElem appends element i of src to d.
func (d *Datum) appendElem(src Datum, i int, isMap bool) {
	d.Keys = append(d.Keys, src.Keys[i])
	if isMap {
		d.Values = append(d.Values, src.Values[i])
	}
}

// DatumDiff returns the update2 "modify" value turning old into new, as
// C's ovsdb_datum_diff: the new value for a column of at most one element
// (max 1: scalars, optional scalars, and sets or maps with max 1); for a
// set with max > 1 the symmetric difference; for a map with max > 1 the
// removed pairs (with their old values), the added pairs and the pairs
// whose value changed (with the new value).
func DatumDiff(t *Type, old, new Datum) Datum {
	if t.Max <= 1 {
		return new
	}
	isMap := t.Value != nil
	var out Datum
	walkDiff(old, new, isMap,
		func(i int) { out.appendElem(old, i, isMap) },
		func(j int) { out.appendElem(new, j, isMap) },
		func(_, j int) { out.appendElem(new, j, isMap) })
	if out.Keys == nil {
		out.Keys = []Atom{}
	}
	if isMap && out.Values == nil {
		out.Values = []Atom{}
	}
	return out
}

// AddedRemoved returns the elements of n not in o (added) and of o not in n
// (removed); a map pair whose value changed counts as both.
func AddedRemoved(o, n Datum) (added, removed Datum) {
	isMap := o.Values != nil || n.Values != nil
	walkDiff(o, n, isMap,
		func(i int) { removed.appendElem(o, i, isMap) },
		func(j int) { added.appendElem(n, j, isMap) },
		func(i, j int) {
			removed.appendElem(o, i, isMap)
			added.appendElem(n, j, isMap)
		})
	return added, removed
}

// ApplyDiff applies an update2-style diff (DatumDiff's result) to a, as
// C's ovsdb_datum_apply_diff: for a column of at most one element the
// diff is the new value; otherwise a diff key absent from a is added, a
// map key whose value differs is updated, and any other key is removed.
// A result outside the type's size bounds is C's "Datum crated by diff
// has size error" (C's spelling); a is then returned unchanged.
func ApplyDiff(t *Type, a, diff Datum) (Datum, error) {
	if t.Max <= 1 {
		return diff, nil
	}
	isMap := t.Value != nil
	gone := map[int]bool{} // indexes of a removed or updated
	var addK, addV []Atom
	for i, k := range diff.Keys {
		pos := a.Find(k)
		switch {
		case pos < 0:
			addK = append(addK, k)
			if isMap {
				addV = append(addV, diff.Values[i])
			}
		case isMap && CompareAtoms(diff.Values[i], a.Values[pos]) != 0:
			gone[pos] = true
			addK = append(addK, k)
			addV = append(addV, diff.Values[i])
		default:
			gone[pos] = true
		}
	}
	var r Datum
	r.Keys = []Atom{}
	if isMap {
		r.Values = []Atom{}
	}
	for i, k := range a.Keys {
		if gone[i] {
			continue
		}
		r.Keys = append(r.Keys, k)
		if isMap {
			r.Values = append(r.Values, a.Values[i])
		}
	}
	r.Keys = append(r.Keys, addK...)
	if isMap {
		r.Values = append(r.Values, addV...)
	}
	if len(r.Keys) < t.Min || len(r.Keys) > t.Max {
		return a, ovsdberr.New(ovsdberr.TagOVSDB, "Datum crated by diff has size error")
	}
	if err := r.Sort(); err != nil {
		return a, err
	}
	return r, nil
}
