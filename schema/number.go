package schema

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// JSONNumber classifies a JSON number the way C's JSON lexer does: any number
// whose exact value is an integer in int64 range (including forms such as
// "1.0" or "1e3") is an integer; everything else is a real.
func JSONNumber(n json.Number) (i int64, f float64, isInt bool, ok bool) {
	s := string(n)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, float64(v), true, true
	}
	r, okr := new(big.Rat).SetString(s)
	if !okr {
		return 0, 0, false, false
	}
	if r.IsInt() && r.Num().IsInt64() {
		v := r.Num().Int64()
		return v, float64(v), true, true
	}
	fv, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(fv, 0) {
		return 0, 0, false, false
	}
	if fv == 0 {
		fv = 0 // no negative zero
	}
	return 0, fv, false, true
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
