package schema

import (
	"bytes"
	"encoding/json"
	"errors"

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
