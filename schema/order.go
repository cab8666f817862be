package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
)

// KeyOrder records the textual member order of a schema's "tables" object
// and of each table's "columns" object. C parses JSON objects into hash
// tables in textual order, and the order of its schema output and of many
// of its checks depends on it (see internal/chash).
type KeyOrder struct {
	Tables  []string
	Columns map[string][]string
}

var errNotSchemaShape = errors.New("not a schema-shaped object")

// SchemaKeyOrder scans schema JSON text for the member order of "tables"
// and of every table's "columns". Duplicate members keep their first
// position, as in C's parser.
func SchemaKeyOrder(data []byte) (*KeyOrder, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	ko := &KeyOrder{Columns: map[string][]string{}}
	err := walkObject(dec, func(k string) error {
		if k != "tables" {
			return skipValue(dec)
		}
		return walkObject(dec, func(tn string) error {
			ko.Tables = appendOnce(ko.Tables, tn)
			return walkObject(dec, func(m string) error {
				if m != "columns" {
					return skipValue(dec)
				}
				ko.Columns[tn] = nil
				return walkObject(dec, func(cn string) error {
					ko.Columns[tn] = appendOnce(ko.Columns[tn], cn)
					return skipValue(dec)
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return ko, nil
}

func appendOnce(s []string, k string) []string {
	for _, x := range s {
		if x == k {
			return s
		}
	}
	return append(s, k)
}

// walkObject reads an object and calls fn for each member name; fn must
// consume the member's value. A non-object value is consumed and reported
// as errNotSchemaShape.
func walkObject(dec *json.Decoder, fn func(string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if ok {
			if err := skipRest(dec); err != nil {
				return err
			}
		}
		return errNotSchemaShape
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if err := fn(tok.(string)); err != nil && err != errNotSchemaShape {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

func skipValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if _, ok := tok.(json.Delim); ok {
		return skipRest(dec)
	}
	return nil
}

// skipRest consumes the rest of an array or object whose opening delimiter
// was just read.
func skipRest(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// orderCache remembers the key order of schema-shaped objects decoded by
// DecodeJSON, so that ParseSchema on the decoded map (e.g. the first record
// of a database file, read through storage) can use it.
var orderCache struct {
	sync.Mutex
	entries [8]struct {
		ptr uintptr
		ko  *KeyOrder
	}
	next int
}

func rememberOrder(m map[string]any, data []byte) {
	tables, ok := m["tables"].(map[string]any)
	if !ok {
		return
	}
	if _, ok := m["name"].(string); !ok {
		return
	}
	ko, err := SchemaKeyOrder(data)
	if err != nil || len(ko.Tables) != len(tables) {
		return
	}
	orderCache.Lock()
	e := &orderCache.entries[orderCache.next]
	e.ptr, e.ko = reflect.ValueOf(m).Pointer(), ko
	orderCache.next = (orderCache.next + 1) % len(orderCache.entries)
	orderCache.Unlock()
}

// lookupOrder returns the remembered key order of m if it matches m's keys.
func lookupOrder(m map[string]any) *KeyOrder {
	p := reflect.ValueOf(m).Pointer()
	var ko *KeyOrder
	orderCache.Lock()
	for _, e := range orderCache.entries {
		if e.ptr == p && e.ko != nil {
			ko = e.ko
		}
	}
	orderCache.Unlock()
	if ko == nil || !ko.matches(m) {
		return nil
	}
	return ko
}

func (ko *KeyOrder) matches(m map[string]any) bool {
	tables, ok := m["tables"].(map[string]any)
	if !ok || len(tables) != len(ko.Tables) {
		return false
	}
	for _, tn := range ko.Tables {
		tj, ok := tables[tn].(map[string]any)
		if !ok {
			return false
		}
		cols, ok := tj["columns"].(map[string]any)
		if !ok || len(cols) != len(ko.Columns[tn]) {
			return false
		}
		for _, cn := range ko.Columns[tn] {
			if _, ok := cols[cn]; !ok {
				return false
			}
		}
	}
	return true
}

// textOrder returns the member names of obj in textual order when known
// (order non-nil and covering obj), else sorted.
func textOrder(obj map[string]any, order []string) []string {
	if order != nil && len(order) == len(obj) {
		return order
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sortStrings(names)
	return names
}

// cOrder returns the order in which C iterates a shash built by inserting
// keys in textual order.
func cOrder(keys []string) []string { return chash.Order(keys...) }
