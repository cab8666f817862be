package cjson

import (
	"errors"
	"math"
	"strconv"
)

// Errors of LexNumber: C's JSON parser rejects such numbers as a syntax
// error (a JSON-RPC peer that sends one is disconnected).
var (
	ErrExponentRange = errors.New("exponent outside valid range")
	ErrNumberRange   = errors.New("number outside valid range")
)

// LexNumber reads the text of a JSON number (grammatically valid) as C's
// JSON lexer does and returns the text that stands for C's value: s
// itself, or the decimal integer C reads when that differs from s, or an
// error when C refuses the number. The text is s unless C's reading
// differs from the number's exact value (see cjson.ClassifyNumber).
//
// C accumulates up to about 19 significant digits in an unsigned 64-bit
// integer and a power of ten, reduces that to an integer when it can, and
// otherwise converts the text with strtod. What a client can observe:
//   - an exponent beyond the range of a C int is an error;
//   - a real beyond the range of a double (1e999) is an error, and so is a
//     subnormal one (1e-310: strtod reports ERANGE), while one that
//     underflows to zero (1e-400) is 0;
//   - a zero significand is 0 whatever the exponent;
//   - the accumulation wraps: "18446744073709551616" is read as 0 and
//     "18446744073709551617" as 1 (reproduced, since it is what C stores).
func LexNumber(s string) (string, error) {
	v, isInt, wrapped, err := lexNumber(s)
	switch {
	case err != nil:
		return "", err
	case wrapped && isInt:
		return strconv.FormatInt(v, 10), nil
	}
	return s, nil
}

// lexNumber is C's reading of the number literal s (grammatically valid):
// an integer v, or a real (isInt false: strtod of s, known to be in range).
// wrapped says the digit accumulation overflowed, so that C's integer is
// not s's value.
func lexNumber(s string) (v int64, isInt, wrapped bool, err error) {
	const maxU = math.MaxUint64
	var (
		sig       uint64
		pow10     int64
		imprecise bool
		neg       bool
	)
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	for ; i < len(s) && isDigit(s[i]); i++ {
		if sig <= maxU/10 {
			d := uint64(s[i] - '0')
			wrapped = wrapped || sig*10 > maxU-d
			sig = sig*10 + d // wraps as in C
		} else {
			pow10++
			if s[i] != '0' {
				imprecise = true
			}
		}
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			if sig <= maxU/10 {
				d := uint64(s[i] - '0')
				wrapped = wrapped || sig*10 > maxU-d
				sig = sig*10 + d
				pow10--
			} else if s[i] != '0' {
				imprecise = true
			}
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		negExp := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			negExp = s[i] == '-'
			i++
		}
		var exp int64
		for ; i < len(s) && isDigit(s[i]); i++ {
			if exp >= math.MaxInt32/10 {
				return 0, false, false, ErrExponentRange
			}
			exp = exp*10 + int64(s[i]-'0')
		}
		if negExp {
			if pow10 < math.MinInt32+exp {
				return 0, false, false, ErrExponentRange
			}
			pow10 -= exp
		} else {
			if pow10 > math.MaxInt32-exp {
				return 0, false, false, ErrExponentRange
			}
			pow10 += exp
		}
	}
	if sig == 0 {
		return 0, true, wrapped, nil
	}
	if !imprecise {
		for pow10 > 0 && sig < maxU/10 {
			sig *= 10
			pow10--
		}
		for pow10 < 0 && sig%10 == 0 {
			sig /= 10
			pow10++
		}
		limit := uint64(math.MaxInt64)
		if neg {
			limit++
		}
		if pow10 == 0 && sig <= limit {
			v := int64(sig) // 2^63 becomes -2^63, which negation keeps
			if neg {
				v = -v
			}
			return v, true, wrapped, nil
		}
	}
	f, perr := strconv.ParseFloat(s, 64)
	if perr != nil && !errors.Is(perr, strconv.ErrRange) {
		return 0, false, false, perr
	}
	if math.IsInf(f, 0) || (f != 0 && math.Abs(f) < minNormal) {
		return 0, false, false, ErrNumberRange
	}
	return 0, false, wrapped, nil
}

// validNumber reports whether s is a JSON number literal.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

// minNormal is the smallest positive normal double (C's DBL_MIN).
const minNormal = 2.2250738585072014e-308

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
