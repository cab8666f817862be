package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// readSchemaFile is C's ovsdb_schema_from_file, errors included.
func readSchemaFile(path string) (*schema.DatabaseSchema, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, ovsdberr.New("failed to read schema", "\"%s\" could not be read as JSON (error opening \"%s\": %s)",
			path, path, strerror(err))
	}
	if _, err := schema.DecodeJSON(data); err != nil {
		return nil, nil, ovsdberr.New("failed to read schema", "\"%s\" could not be read as JSON (%v)", path, err)
	}
	s, err := schema.ParseSchemaBytes(data)
	if err != nil {
		e := *ovsdberr.As(err)
		msg := fmt.Sprintf("failed to parse \"%s\" as ovsdb schema", path)
		if e.Details != "" {
			e.Details = msg + ": " + e.Details
		} else {
			e.Details = msg
		}
		return nil, nil, &e
	}
	return s, data, nil
}

// openAny opens path as a C-format OVSDB file of either kind, read-only.
func openAny(path string) (*storage.Log, error) {
	return storage.Open(path, storage.MagicStandalone+"|"+storage.MagicClustered, storage.ReadOnly)
}

// readStandaloneSchema reads the schema record of a standalone database
// (C's read_standalone_schema).
func readStandaloneSchema(path string) (*schema.DatabaseSchema, []byte, error) {
	if ours(path) {
		return nil, nil, &storage.ClusteredError{Path: path}
	}
	l, err := openAny(path)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	if l.Magic() == storage.MagicClustered {
		return nil, nil, &storage.ClusteredError{Path: path}
	}
	raw, err := l.ReadRaw()
	if err != nil {
		return nil, nil, err
	}
	if raw == nil {
		return nil, nil, ovsdberr.New(ovsdberr.TagOVSDB, "%s: unexpected end of file reading schema", path)
	}
	s, err := schema.ParseSchemaBytes(raw)
	return s, raw, err
}

func (t *tool) printSchemaField(s *schema.DatabaseSchema, err error, field func(*schema.DatabaseSchema) string) error {
	if err != nil {
		return err
	}
	fmt.Fprintln(t.stdout, field(s))
	return nil
}

func sName(s *schema.DatabaseSchema) string    { return s.Name }
func sVersion(s *schema.DatabaseSchema) string { return s.Version }
func sCksum(s *schema.DatabaseSchema) string   { return s.Cksum }

func (t *tool) schemaName(args []string) error {
	s, _, err := readSchemaFile(argOr(args, 1, defaultSchema()))
	return t.printSchemaField(s, err, sName)
}

func (t *tool) schemaVersion(args []string) error {
	s, _, err := readSchemaFile(argOr(args, 1, defaultSchema()))
	return t.printSchemaField(s, err, sVersion)
}

func (t *tool) schemaCksum(args []string) error {
	s, _, err := readSchemaFile(argOr(args, 1, defaultSchema()))
	return t.printSchemaField(s, err, sCksum)
}

func (t *tool) dbVersion(args []string) error {
	s, _, err := readStandaloneSchema(argOr(args, 1, defaultDB()))
	return t.printSchemaField(s, err, sVersion)
}

func (t *tool) dbCksum(args []string) error {
	s, _, err := readStandaloneSchema(argOr(args, 1, defaultDB()))
	return t.printSchemaField(s, err, sCksum)
}

// dbName works on both kinds of files; clustered ones answer from their
// metadata.
func (t *tool) dbName(args []string) error {
	path := argOr(args, 1, defaultDB())
	if ours(path) || isCClustered(path) {
		m, err := readClusterMeta(path)
		if err != nil {
			return err
		}
		fmt.Fprintln(t.stdout, m.Name)
		return nil
	}
	s, _, err := readStandaloneSchema(path)
	return t.printSchemaField(s, err, sName)
}

func (t *tool) needsConversion(args []string) error {
	s1, _, err := readStandaloneSchema(argOr(args, 1, defaultDB()))
	if err != nil {
		return err
	}
	s2, _, err := readSchemaFile(argOr(args, 2, defaultSchema()))
	if err != nil {
		return err
	}
	if string(cjson.Marshal(s1.ToJSON())) == string(cjson.Marshal(s2.ToJSON())) {
		fmt.Fprintln(t.stdout, "no")
	} else {
		fmt.Fprintln(t.stdout, "yes")
	}
	return nil
}

// dbIs exits 0 if the file is of the asked kind, 2 if it is of the other.
func (t *tool) dbIs(args []string, clustered bool) error {
	path := args[1]
	is := ours(path)
	if !is {
		l, err := openAny(path)
		if err != nil {
			return err
		}
		is = l.Magic() == storage.MagicClustered
		l.Close()
	}
	if is != clustered {
		return exitStatus(2)
	}
	return nil
}

func (t *tool) dbCID(args []string) error {
	m, err := readClusterMeta(args[1])
	if err != nil {
		return err
	}
	if m.ClusterID == (schema.UUID{}) {
		fmt.Fprintf(t.stderr, "%s: cluster ID not yet known\n", args[1])
		return exitStatus(2)
	}
	fmt.Fprintln(t.stdout, m.ClusterID)
	return nil
}

func (t *tool) dbSID(args []string) error {
	m, err := readClusterMeta(args[1])
	if err != nil {
		return err
	}
	fmt.Fprintln(t.stdout, m.ServerID)
	return nil
}

func (t *tool) dbLocalAddress(args []string) error {
	m, err := readClusterMeta(args[1])
	if err != nil {
		return err
	}
	fmt.Fprintln(t.stdout, m.LocalAddress)
	return nil
}

var versionRE = regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.([0-9]+)$`)

func parseVersion(s string) ([3]int64, error) {
	var v [3]int64
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return v, fatalf("%s: not an OVSDB version number in format x.y.z", s)
	}
	for i := range v {
		n, err := strconv.ParseInt(m[i+1], 10, 32)
		if err != nil {
			return v, fatalf("%s: not an OVSDB version number in format x.y.z", s)
		}
		v[i] = n
	}
	return v, nil
}

func (t *tool) compareVersions(args []string) error {
	a, err := parseVersion(args[1])
	if err != nil {
		return err
	}
	b, err := parseVersion(args[3])
	if err != nil {
		return err
	}
	cmp := 0
	for i := range a {
		if a[i] != b[i] {
			if a[i] > b[i] {
				cmp = 1
			} else {
				cmp = -1
			}
			break
		}
	}
	var r bool
	switch args[2] {
	case "<":
		r = cmp < 0
	case "<=":
		r = cmp <= 0
	case "==":
		r = cmp == 0
	case ">=":
		r = cmp >= 0
	case ">":
		r = cmp > 0
	case "!=":
		r = cmp != 0
	default:
		return fatalf("%s: not a relational operator", args[2])
	}
	if !r {
		return exitStatus(2)
	}
	return nil
}
