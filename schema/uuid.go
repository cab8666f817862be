package schema

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
)

// UUID is a 128-bit OVSDB UUID. Its byte order follows the text form, so
// comparing two UUIDs bytewise orders them as C's uuid_compare_3way does.
type UUID [16]byte

// ZeroUUID is the all-zeros UUID.
var ZeroUUID UUID

// randBuf hands out crypto/rand bytes read 4 KiB at a time: one system
// call per 256 UUIDs instead of one per UUID.
var randBuf struct {
	sync.Mutex
	buf [4096]byte
	pos int
}

func init() { randBuf.pos = len(randBuf.buf) }

// NewUUID returns a random (version 4) UUID.
func NewUUID() UUID {
	var u UUID
	randBuf.Lock()
	if randBuf.pos+len(u) > len(randBuf.buf) {
		if _, err := rand.Read(randBuf.buf[:]); err != nil {
			randBuf.Unlock()
			panic(err)
		}
		randBuf.pos = 0
	}
	copy(u[:], randBuf.buf[randBuf.pos:])
	clear(randBuf.buf[randBuf.pos : randBuf.pos+len(u)]) // never hand out bytes twice
	randBuf.pos += len(u)
	randBuf.Unlock()
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// String returns the canonical 36-character lower-case text form.
func (u UUID) String() string {
	var b [36]byte
	u.encode(&b)
	return string(b[:])
}

// Append appends the canonical text form of u (as String) to b.
func (u UUID) Append(b []byte) []byte {
	var t [36]byte
	u.encode(&t)
	return append(b, t[:]...)
}

func (u UUID) encode(b *[36]byte) {
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
}

// IsZero reports whether u is all zeros.
func (u UUID) IsZero() bool { return u == ZeroUUID }

var errBadUUID = errors.New("bad UUID")

// ParseUUID parses the 36-character text form (either case).
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, errBadUUID
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return UUID{}, errBadUUID
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, nil
}

// IsUUIDString reports whether s is a well-formed UUID.
func IsUUIDString(s string) bool {
	_, err := ParseUUID(s)
	return err == nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
