package cjson

import (
	"encoding/json"
	"strconv"
)

// ClassifyNumber interprets a JSON number literal the way C's JSON lexer
// does (see LexNumber): an integer when C reduces it to one ("1.0", "1e3"
// and "-0" are integers), else a real. ok is false for literals that are
// not JSON numbers or that C refuses (1e999).
func ClassifyNumber(s string) (i int64, f float64, isInt bool, ok bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && !hasLeadingZero(s) {
		return v, float64(v), true, true
	}
	if !validNumber(s) {
		return 0, 0, false, false
	}
	v, isInt, _, err := lexNumber(s)
	switch {
	case err != nil:
		return 0, 0, false, false
	case isInt:
		return v, float64(v), true, true
	}
	fv, _ := strconv.ParseFloat(s, 64) // in range: checked by lexNumber
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
