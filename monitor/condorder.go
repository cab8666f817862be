package monitor

// C keeps a monitor's conditions in a string hash table (struct shash)
// keyed by table name, with one entry per <monitor-request>: a table with
// several requests gets several entries of the same name, and every lookup
// by name returns whichever of them comes first in its hash bucket. So
// exactly one request's "where" applies to the table (initial reply,
// updates, and the condition monitor_cond_change replaces); the other
// requests' conditions only add their columns to those whose change makes
// a "modify".
//
// Which entry comes first does not depend on the hash values: entries of
// the same name always share a bucket, a new entry goes to the head of its
// bucket, and each time the table grows every bucket chain is moved entry
// by entry to the heads of the new buckets, which reverses the relative
// order of same-name entries. Growth happens after the insertion that
// makes the count n satisfy n/2 > mask, the new mask being the smallest
// 2^k-1 (at least 3) covering n/2: at n = 2, 8, 16, 32, ... So only the
// global insertion sequence matters: tables in C's iteration order of the
// request object, each table's requests in array order.

// condMask mirrors the hash table's bucket mask computation for n entries.
func condMask(n int) int {
	m := uint64(n / 2)
	for _, s := range []uint{1, 2, 4, 8, 16, 32} {
		m |= m >> s
	}
	m |= (m & 1) << 1
	return int(m)
}

// condOrder returns, for each table of a monitor, the index of the
// request whose condition C applies. tables are the table names in the
// order C inserts their requests; counts the number of requests of each.
// A table with no request has no entry.
func condOrder(tables []string, counts map[string]int) map[string]int {
	chains := make(map[string][]int, len(tables)) // head first
	n, mask := 0, 0
	for _, t := range tables {
		for i := 0; i < counts[t]; i++ {
			chains[t] = append([]int{i}, chains[t]...)
			n++
			if n/2 > mask {
				if nm := condMask(n); nm > mask {
					mask = nm
					for _, c := range chains {
						for a, b := 0, len(c)-1; a < b; a, b = a+1, b-1 {
							c[a], c[b] = c[b], c[a]
						}
					}
				}
			}
		}
	}
	found := make(map[string]int, len(chains))
	for t, c := range chains {
		found[t] = c[0]
	}
	return found
}
