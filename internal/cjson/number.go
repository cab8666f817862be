package cjson

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
)

// ClassifyNumber interprets a JSON number literal the way C's JSON lexer
// does: any number whose exact value is an integer in int64 range
// (including "1.0" or "1e3") is an integer; everything else is a real.
// ok is false for literals that are not numbers or overflow a double.
func ClassifyNumber(s string) (i int64, f float64, isInt bool, ok bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && !hasLeadingZero(s) {
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
		fv = 0 // C suppresses negative zero
	}
	return 0, fv, false, true
}

func hasLeadingZero(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	return len(s) > 1 && s[0] == '0'
}

// isPlainInt reports whether s is a canonical decimal integer literal that
// C would print back unchanged.
func isPlainInt(s string) bool {
	if len(s) == 0 || len(s) > 19 || hasLeadingZero(s) {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
		if len(s) == 1 || s == "-0" {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendNumber appends a JSON number as C re-serialises it after parsing:
// integers in decimal, reals in "%.15g".
func appendNumber(b []byte, n json.Number) []byte {
	s := string(n)
	if isPlainInt(s) {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return append(b, s...)
		}
	}
	i, f, isInt, ok := ClassifyNumber(s)
	switch {
	case !ok:
		return append(b, s...)
	case isInt:
		return strconv.AppendInt(b, i, 10)
	}
	return append(b, FormatReal(f)...)
}
