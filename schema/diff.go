package schema

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
			out.Keys = append(out.Keys, old.Keys[i])
			if isMap {
				out.Values = append(out.Values, old.Values[i])
			}
			i++
		case c > 0:
			out.Keys = append(out.Keys, new.Keys[j])
			if isMap {
				out.Values = append(out.Values, new.Values[j])
			}
			j++
		default:
			if isMap && CompareAtoms(old.Values[i], new.Values[j]) != 0 {
				out.Keys = append(out.Keys, new.Keys[j])
				out.Values = append(out.Values, new.Values[j])
			}
			i++
			j++
		}
	}
	if out.Keys == nil {
		out.Keys = []Atom{}
	}
	if isMap && out.Values == nil {
		out.Values = []Atom{}
	}
	return out
}
