package schema

import (
	"encoding/json"
	"math"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// JSONNumber classifies a JSON number the way C's JSON lexer does: any number
// whose exact value is an integer in int64 range (including forms such as
// "1.0" or "1e3") is an integer; everything else is a real.
func JSONNumber(n json.Number) (i int64, f float64, isInt bool, ok bool) {
	return cjson.ClassifyNumber(string(n))
}

// AsInteger returns v as an integer if it is a JSON integer in C's sense.
func AsInteger(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, _, isInt, ok := JSONNumber(n)
		return i, ok && isInt
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

// AsReal returns v as a float if it is any JSON number.
func AsReal(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		_, f, _, ok := JSONNumber(n)
		return f, ok
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// FormatReal formats f as C does ("%.15g").
func FormatReal(f float64) string { return cjson.FormatReal(f) }
