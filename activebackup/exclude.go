package activebackup

// The tables left out of replication (--sync-exclude-tables,
// ovsdb-server/set-sync-exclude-tables), read and printed as C 3.1 does.

import (
	"sort"
	"strings"
)

// exclusions maps a database name to the names of its excluded tables.
type exclusions map[string]map[string]bool

// parseExclusions reads a list of DB:TABLE names separated by spaces or
// commas, as C's set_excluded_tables: empty names are skipped, repeated
// ones counted once. Each name is split as C's strtok_r(name, ":") splits
// it: leading colons are skipped, the database is the text up to the
// first colon after them (the skipped colons included) and the table the
// text after that colon, or "" when there is none ("foo" excludes table
// "" of database "foo", which C prints as "foo:"). With glibc's strtok_r
// no name fails, so C's "Can't parse excluded table" is never given.
func parseExclusions(s string) exclusions {
	ex := exclusions{}
	for _, name := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		db, table := name, ""
		start := len(name) - len(strings.TrimLeft(name, ":"))
		if i := strings.IndexByte(name[start:], ':'); i >= 0 {
			db, table = name[:start+i], name[start+i+1:]
		}
		if ex[db] == nil {
			ex[db] = map[string]bool{}
		}
		ex[db][table] = true
	}
	return ex
}

// excluded reports whether table of database db is left out.
func (ex exclusions) excluded(db, table string) bool { return ex[db][table] }

// String is C's get_excluded_tables: "DB:TABLE" names sorted bytewise,
// joined by commas.
func (ex exclusions) String() string {
	var names []string
	for db, tables := range ex {
		for t := range tables {
			names = append(names, db+":"+t)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
