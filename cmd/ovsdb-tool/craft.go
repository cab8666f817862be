package main

// The records of a C clustered database file ("OVSDB CLUSTER"): its
// header (the first record) and its log records, as C's raft-private.c
// reads them, for check-cluster and show-log on C's files.

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// cHeader is C's struct raft_header.
type cHeader struct {
	sid, cid     schema.UUID
	name, local  string
	remotes      []string // sorted, local address removed
	joining      bool
	snapIndex    uint64
	snap         cEntry
	snapHasData  bool
	snapDataJSON any
}

// cEntry is C's struct raft_entry.
type cEntry struct {
	term          uint64
	data          any // nil: none
	eid           schema.UUID
	servers       map[string]any // nil: none
	electionTimer uint64
}

// toJSON is C's raft_entry_to_json.
func (e *cEntry) toJSON() map[string]any {
	j := map[string]any{"term": json.Number(u64s(e.term))}
	if e.data != nil {
		j["data"] = e.data
		j["eid"] = e.eid.String()
	}
	if e.servers != nil {
		j["servers"] = e.servers
	}
	if e.electionTimer != 0 {
		j["election_timer"] = json.Number(u64s(e.electionTimer))
	}
	return j
}

// equalKey is what C's raft_entry_equals compares: term, eid, servers
// and data (not the election timer).
func (e *cEntry) equalKey() string {
	return string(cjson.Marshal([]any{json.Number(u64s(e.term)), e.eid.String(), e.servers, e.data}))
}

type cRecordType int

const (
	cRecEntry cRecordType = iota
	cRecTerm
	cRecVote
	cRecNote
	cRecCommitIndex
	cRecLeader
)

// cRecord is C's struct raft_record.
type cRecord struct {
	typ         cRecordType
	comment     string
	hasComment  bool
	term        uint64
	index       uint64 // entry
	entry       cEntry // entry (term is the record's)
	sid         schema.UUID
	note        string
	commitIndex uint64
}

func u64s(v uint64) string { return strconv.FormatUint(v, 10) }

// cParser wraps schema.Parser with C's raft_parse_* helpers.
type cParser struct{ *schema.Parser }

// optUint is raft_parse_optional_uint64 (absent: 0).
func (p cParser) optUint(name string) uint64 {
	v := p.Member(name, schema.KInteger|schema.KOptional)
	if v == nil {
		return 0
	}
	n, _ := schema.AsInteger(v.(json.Number))
	if n < 0 {
		p.Raise("%s out of range", name)
		return 0
	}
	return uint64(n)
}

// reqUint is raft_parse_required_uint64.
func (p cParser) reqUint(name string) uint64 {
	v := p.Member(name, schema.KInteger)
	if v == nil {
		return 0
	}
	n, _ := schema.AsInteger(v.(json.Number))
	if n < 0 {
		p.Raise("%s out of range", name)
		return 0
	}
	return uint64(n)
}

// uuid is raft_parse_uuid: optional or required.
func (p cParser) uuid(name string, optional bool) (schema.UUID, bool) {
	kinds := schema.KString
	if optional {
		kinds |= schema.KOptional
	}
	v := p.Member(name, kinds)
	if v == nil {
		return schema.UUID{}, false
	}
	u, err := schema.ParseUUID(v.(string))
	if err != nil {
		p.Raise("%s is not a UUID", name)
		return schema.UUID{}, false
	}
	return u, true
}

func (p cParser) str(name string, optional bool) (string, bool) {
	kinds := schema.KString
	if optional {
		kinds |= schema.KOptional
	}
	v := p.Member(name, kinds)
	if v == nil {
		return "", false
	}
	return v.(string), true
}

// servers checks a servers object (raft_servers_validate_json): every
// member a server id naming a string address.
func (p cParser) servers(name string, optional bool) map[string]any {
	kinds := schema.KObject
	if optional {
		kinds |= schema.KOptional
	}
	v := p.Member(name, kinds)
	if v == nil {
		return nil
	}
	m := v.(map[string]any)
	for k, a := range m {
		if _, err := schema.ParseUUID(k); err != nil {
			p.Raise("%s is not a valid UUID", k)
		} else if _, ok := a.(string); !ok {
			p.Raise("server address is not string")
		}
	}
	return m
}

// parseCHeader is raft_header_from_json.
func parseCHeader(js any) (*cHeader, error) {
	p := cParser{schema.NewParser(js, "raft header")}
	h := &cHeader{}
	h.sid, _ = p.uuid("server_id", false)
	h.name, _ = p.str("name", false)
	h.local, _ = p.str("local_address", false)
	if ra := p.Member("remote_addresses", schema.KArray|schema.KOptional); ra != nil {
		h.joining = true
		seen := map[string]bool{}
		for _, a := range ra.([]any) {
			s, ok := a.(string)
			if !ok {
				p.Raise("address is not string")
				continue
			}
			if s != h.local && !seen[s] {
				seen[s] = true
				h.remotes = append(h.remotes, s)
			}
		}
		sort.Strings(h.remotes)
		if len(h.remotes) == 0 && len(ra.([]any)) > 0 {
			p.Raise("at least one remote address (other than the local address) is required")
		}
	} else {
		h.snap.servers = p.servers("prev_servers", false)
		h.snapIndex = p.optUint("prev_index")
		if h.snapIndex != 0 {
			d := p.Member("prev_data", schema.KAny|schema.KOptional)
			if d != nil {
				h.snap.data, h.snapHasData = d, true
			}
			h.snap.eid, _ = p.uuid("prev_eid", false)
			h.snap.term = p.reqUint("prev_term")
			h.snap.electionTimer = p.optUint("prev_election_timer")
		}
	}
	h.cid, _ = p.uuid("cluster_id", h.joining)
	if err := p.Finish(); err != nil {
		return nil, err
	}
	return h, nil
}

// parseCRecord is raft_record_from_json.
func parseCRecord(js any) (*cRecord, error) {
	p := cParser{schema.NewParser(js, "raft log record")}
	r := &cRecord{}
	r.comment, r.hasComment = p.str("comment", true)
	if note, ok := p.str("note", true); ok {
		r.typ, r.note = cRecNote, note
		return r, p.Finish()
	}
	if r.commitIndex = p.optUint("commit_index"); r.commitIndex != 0 {
		r.typ = cRecCommitIndex
		return r, p.Finish()
	}
	r.term = p.reqUint("term")
	if sid, ok := p.uuid("leader", true); ok {
		r.typ, r.sid = cRecLeader, sid
		if sid.IsZero() {
			p.Raise("record says leader is all-zeros SID")
		}
		return r, p.Finish()
	}
	if sid, ok := p.uuid("vote", true); ok {
		r.typ, r.sid = cRecVote, sid
		if sid.IsZero() {
			p.Raise("record votes for all-zeros SID")
		}
		return r, p.Finish()
	}
	if r.index = p.optUint("index"); r.index == 0 {
		r.typ = cRecTerm
		return r, p.Finish()
	}
	r.typ = cRecEntry
	r.entry.term = r.term
	r.entry.servers = p.servers("servers", true)
	r.entry.electionTimer = p.optUint("election_timer")
	r.entry.data = p.Member("data", schema.KObject|schema.KArray|schema.KOptional)
	if r.entry.data != nil {
		r.entry.eid, _ = p.uuid("eid", false)
	}
	return r, p.Finish()
}

// sidPrefix is C's SID_FMT/CID_FMT: the first 4 hex digits.
func sidPrefix(u schema.UUID) string { return u.String()[:4] }

// maxUint64 stands for C's UINT64_MAX.
const maxUint64 = math.MaxUint64
