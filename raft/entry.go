package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// entryVersion is the first byte of every encoded transaction Entry.
const entryVersion = 1

// convertVersion is the first byte of an encoded conversion Entry (one
// whose Schema is set). Version 2 is a batch (batchVersion).
const convertVersion = 3

// clientVersion is the first byte of an encoded transaction Entry that
// carries an RBAC role (Role set). Entries without a role keep version 1,
// so that members of an older version read them, and entries written
// before roles existed decode as "no role".
const clientVersion = 4

// Entry is one replicated client request: a Raft log entry on its own or
// one part of a batch (encodeBatch). It is a transaction (Ops), or, when
// Schema is set, an online conversion of the database to that schema.
//
// Encoding of a transaction (version 1): byte version, TxnID (16 bytes),
// Seed (16 bytes), TimeMS and ElapsedMS (uvarint each), DB (uvarint length
// + bytes), Locks (uvarint count, then uvarint length + bytes each), then
// the operations as a JSON array up to the end. Version 4 is version 1
// with, after the locks, Role (uvarint length + bytes), a byte 1 if
// HasClientID (else 0) and ClientID (uvarint length + bytes).
//
// Encoding of a conversion (version 3): byte version, TxnID, Seed, TimeMS,
// ElapsedMS and DB as above, then the new schema's JSON up to the end.
type Entry struct {
	// TxnID identifies the transaction across retries: a member that lost
	// the answer re-proposes the same id and the FSM answers from its
	// dedupe table instead of executing it twice. It is also the
	// transaction id given to monitors (last-txn-id).
	TxnID schema.UUID
	// Seed, with TxnID, seeds the generator of the transaction's new
	// UUIDs, identical on every member.
	Seed [16]byte
	// DB is the database name.
	DB string
	// Ops are the RFC 7047 operations (transact params after the name).
	Ops []any
	// Locks lists the locks named by "assert" ops that the proposing
	// session held when it proposed (locks are per member).
	Locks []string
	// TimeMS is the proposer's wall clock (ms since the epoch).
	TimeMS int64
	// ElapsedMS is the time since the proposer's first attempt, which
	// decides whether a "wait" op has timed out.
	ElapsedMS int64
	// Role, ClientID and HasClientID are the proposing session's RBAC
	// role and id (ovsdb.TransactOptions' fields of the same names):
	// every member checks the writes against its RBAC tables with them.
	// Role "" means none (ClientID is then not encoded).
	Role        string
	ClientID    string
	HasClientID bool
	// Schema, when not nil, makes the entry a conversion: the JSON text of
	// the schema the database is converted to (Ops and Locks are unused).
	// Every member converts its own state at this entry's place in the log
	// with Config.Convert (C's conversion rules), deterministically: the
	// new rows' _version UUIDs come from TxnID and Seed as a transaction's
	// new UUIDs do, and TxnID is the converted database's last transaction
	// id.
	Schema []byte
}

// MarshalBinary encodes e. The operations are written with cjson (the
// C serialisation, keys sorted), straight into the entry buffer.
func (e *Entry) MarshalBinary() (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("raft entry: encoding operations: %v", r)
		}
	}()
	b = make([]byte, 0, 128+len(e.DB)+len(e.Schema))
	switch {
	case e.Schema != nil:
		b = append(b, convertVersion)
	case e.Role != "":
		b = append(b, clientVersion)
	default:
		b = append(b, entryVersion)
	}
	b = append(b, e.TxnID[:]...)
	b = append(b, e.Seed[:]...)
	b = binary.AppendUvarint(b, uint64(e.TimeMS))
	b = binary.AppendUvarint(b, uint64(e.ElapsedMS))
	b = appendString(b, e.DB)
	if e.Schema != nil {
		return append(b, e.Schema...), nil
	}
	b = binary.AppendUvarint(b, uint64(len(e.Locks)))
	for _, l := range e.Locks {
		b = appendString(b, l)
	}
	if e.Role != "" {
		b = appendString(b, e.Role)
		if e.HasClientID {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendString(b, e.ClientID)
	}
	if e.Ops == nil {
		return append(b, "[]"...), nil
	}
	return cjson.Append(b, e.Ops), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadEntry = errors.New("raft entry: truncated or corrupt")

// DecodeEntry decodes an encoded Entry; numbers in Ops are json.Number.
// A conversion's Schema is the encoded bytes (not checked here).
func DecodeEntry(b []byte) (*Entry, error) {
	if len(b) < 33 {
		return nil, errBadEntry
	}
	if b[0] != entryVersion && b[0] != convertVersion && b[0] != clientVersion {
		return nil, fmt.Errorf("raft entry: unknown version %d", b[0])
	}
	conv := b[0] == convertVersion
	client := b[0] == clientVersion
	e := &Entry{}
	copy(e.TxnID[:], b[1:17])
	copy(e.Seed[:], b[17:33])
	b = b[33:]
	uv := func() uint64 {
		if b == nil {
			return 0
		}
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if b == nil || n > uint64(len(b)) {
			b = nil
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	e.TimeMS = int64(uv())
	e.ElapsedMS = int64(uv())
	e.DB = str()
	if conv {
		if len(b) == 0 {
			return nil, errBadEntry
		}
		e.Schema = append([]byte(nil), b...)
		return e, nil
	}
	nl := uv()
	if b == nil || nl > uint64(len(b)) {
		return nil, errBadEntry
	}
	for i := uint64(0); i < nl; i++ {
		e.Locks = append(e.Locks, str())
	}
	if client {
		e.Role = str()
		if len(b) == 0 || b[0] > 1 {
			return nil, errBadEntry
		}
		e.HasClientID = b[0] == 1
		b = b[1:]
		e.ClientID = str()
		if e.Role == "" {
			return nil, errBadEntry
		}
	}
	if b == nil {
		return nil, errBadEntry
	}
	ops, err := schema.DecodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("raft entry: operations: %w", err)
	}
	arr, ok := ops.([]any)
	if !ok {
		return nil, errors.New("raft entry: operations are not an array")
	}
	e.Ops = arr
	return e, nil
}

// uuidSource returns the deterministic generator of e's new UUIDs
// (version 4 layout, as C's random UUIDs).
func (e *Entry) uuidSource() func() schema.UUID {
	var seed [32]byte
	copy(seed[:16], e.Seed[:])
	copy(seed[16:], e.TxnID[:])
	g := rand.NewChaCha8(seed)
	return func() schema.UUID {
		var u schema.UUID
		_, _ = g.Read(u[:])
		u[6] = (u[6] & 0x0f) | 0x40
		u[8] = (u[8] & 0x3f) | 0x80
		return u
	}
}

// batchVersion is the first byte of a batch: several encoded Entries in
// one Raft log entry (group commit, see batch.go).
const batchVersion = 2

// encodeBatch lays out encoded Entries as one log entry: byte batchVersion,
// uvarint count, then each entry as uvarint length + bytes.
func encodeBatch(entries [][]byte) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, e := range entries {
		size += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 0, size)
	b = append(b, batchVersion)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// splitBatch returns the encoded Entries of a log entry: those of a batch,
// or the entry itself when it is a single (version 1) Entry. The parts
// alias b.
func splitBatch(b []byte) ([][]byte, error) {
	if len(b) == 0 || b[0] != batchVersion {
		return [][]byte{b}, nil
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadEntry
	}
	b = b[k:]
	parts := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errBadEntry
		}
		parts = append(parts, b[k:k+int(l)])
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, errBadEntry
	}
	return parts, nil
}
