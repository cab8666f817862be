package main

// check-cluster DB...: C's consistency checks of the members' files of one
// cluster, on C's clustered files (the same checks and messages as C) and
// on ours (storage/raftstore; the checks are listed in
// storage/raftstore/DESIGN.md, "ovsdb-tool check-cluster"). Silent with
// exit status 0 when the files are consistent; the first inconsistency
// ends the program with its message and status 1.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// ccEntry is one log entry as the cross-file checks see it.
type ccEntry struct {
	term    uint64
	key     string   // equal keys: the same entry (C's raft_entry_equals)
	text    string   // the entry shown when two files disagree
	servers []string // server ids of the configuration it holds; nil: none
}

// ccServer is one file given to check-cluster (C's struct server).
type ccServer struct {
	filename string
	sid, cid schema.UUID
	name     string

	clog *storage.Log     // a C file
	hdr  *cHeader         // its header
	st   *raftstore.Store // one of ours
	meta raftstore.Meta   // its metadata
	snap *raftstore.SnapshotInfo

	snapTerm    uint64
	snapServers []string
	entries     []ccEntry // entries[i] is the entry at index logStart+i
	logStart    uint64
	logEnd      uint64
}

func (s *ccServer) close() {
	if s.clog != nil {
		s.clog.Close()
	}
	if s.st != nil {
		s.st.Close()
	}
}

// ccLeader and ccCommit are C's struct leader and struct commit.
type ccLeader struct {
	server *ccServer
	leader schema.UUID
	logEnd uint64
}

type ccCommit struct {
	server *ccServer
	index  uint64
}

type ccCluster struct {
	servers []*ccServer
	leaders map[uint64]*ccLeader
	commits map[uint64]*ccCommit
}

// serverName is C's get_server_name.
func (c *ccCluster) serverName(sid schema.UUID) string {
	for _, s := range c.servers {
		if s.sid == sid {
			return s.filename
		}
	}
	return sidPrefix(sid)
}

func (t *tool) checkCluster(args []string) (err error) {
	c := &ccCluster{leaders: map[uint64]*ccLeader{}, commits: map[uint64]*ccCommit{}}
	defer func() {
		for _, s := range c.servers {
			s.close()
		}
	}()
	// A file damaged inside its pages can make bbolt panic, or fault
	// on its memory map: that is a failed check (status 1), not a crash.
	current := ""
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fatalf("%s: damaged file (%v)", current, r)
		}
	}()
	for _, name := range args[1:] {
		current = name
		s, err := openCheckServer(name)
		if err != nil {
			return err
		}
		joining := (s.hdr != nil && s.hdr.joining) || (s.st != nil && s.meta.Joining())
		if joining {
			fmt.Fprintf(t.stdout, "%s has not joined the cluster, omitting\n", name)
			s.close()
			continue
		}
		for _, o := range c.servers {
			if o.sid == s.sid {
				s.close()
				return fatalf("Duplicate server ID %s in %s and %s.", sidPrefix(s.sid), s.filename, o.filename)
			}
		}
		if len(c.servers) > 0 {
			s0 := c.servers[0]
			if s0.cid != s.cid {
				s.close()
				return fatalf("%s has cluster ID %s but %s has cluster ID %s",
					s0.filename, sidPrefix(s0.cid), s.filename, sidPrefix(s.cid))
			}
			if s0.name != s.name {
				s.close()
				return fatalf("%s is named \"%s\" but %s is named \"%s\"", s0.filename, s0.name, s.filename, s.name)
			}
		}
		c.servers = append(c.servers, s)
	}

	minTerm, maxTerm := uint64(maxUint64), uint64(0)
	for _, s := range c.servers {
		current = s.filename
		var err error
		if s.clog != nil {
			err = t.checkCRecords(c, s, &minTerm, &maxTerm)
		} else {
			err = t.checkOurLog(s, &minTerm, &maxTerm)
		}
		if err != nil {
			return err
		}
	}

	current = ""
	// Leader Completeness (Raft paper, figure 3.2): an entry committed in
	// a term is in the logs of the leaders of all later terms. Only C's
	// files record leaders and commit indexes.
	if minTerm == maxUint64 || maxTerm == 0 {
		return fatalf("all logs are empty")
	}
	var commit *ccCommit
	for term := minTerm; term <= maxTerm; term++ {
		if l := c.leaders[term]; l != nil && l.logEnd != 0 && commit != nil && commit.index >= l.logEnd {
			return fatalf("leader %s for term %d has log entries only up to index %d, but index %d was committed in a previous term (e.g. by %s)",
				l.server.filename, term, l.logEnd-1, commit.index, commit.server.filename)
		}
		if next := c.commits[term]; next != nil && (commit == nil || next.index > commit.index) {
			commit = next
		}
		if term == maxUint64 {
			break
		}
	}

	// Log Matching: entries with the same index and term are the same,
	// and so are all the entries before them.
	for _, a := range c.servers {
		for _, b := range c.servers {
			if a == b {
				continue
			}
			mustEqual := false
			for idx := min(a.logEnd, b.logEnd) - 1; idx >= max(a.logStart, b.logStart) && idx > 0; idx-- {
				ae, be := &a.entries[idx-a.logStart], &b.entries[idx-b.logStart]
				if ae.term == be.term {
					mustEqual = true
				}
				if !mustEqual || ae.key == be.key {
					continue
				}
				return fatalf("log entries with index %d differ:\n%s has %s\n%s has %s", idx, a.filename, ae.text, b.filename, be.text)
			}
		}
	}

	// Every server is in its own configuration: the snapshot's, or one
	// stored in its log.
	for _, s := range c.servers {
		if s.st != nil && s.meta.Left {
			continue // removed from the cluster (reported above)
		}
		id := s.sid.String()
		found := inServers(id, s.snapServers)
		for i := range s.entries {
			found = found || inServers(id, s.entries[i].servers)
		}
		if !found {
			return fatalf("%s: server %s not found in server list", s.filename, sidPrefix(s.sid))
		}
	}
	return nil
}

// statSize returns the size of the file at path.
func statSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// inServers compares SID_LEN characters, as C does.
func inServers(id string, servers []string) bool {
	for _, s := range servers {
		if len(s) >= 4 && s[:4] == id[:4] {
			return true
		}
	}
	return false
}

// openCheckServer opens one file and reads its header with C's errors.
func openCheckServer(name string) (*ccServer, error) {
	f, err := raftstore.Sniff(name)
	if err != nil {
		if st, serr := statSize(name); serr == nil && st == 0 {
			// C reads an empty file as a log with no header.
			return nil, ovsdberr.New(ovsdberr.TagSyntax, "Parsing raft header failed: Object expected.")
		}
		return nil, err
	}
	s := &ccServer{filename: name}
	switch f {
	case raftstore.FormatBolt:
		st, err := raftstore.OpenReadOnly(name)
		if err != nil {
			return nil, err
		}
		// C's log parser fails on bytes appended to its file; a bbolt
		// file holds whole pages only.
		if off, n, err := raftstore.TrailingBytes(name); err != nil || n > 0 {
			st.Close()
			if err == nil {
				err = ovsdberr.New(ovsdberr.TagSyntax, "%s: %d bytes after the last page at offset %d", name, n, off)
			}
			return nil, err
		}
		s.st, s.meta = st, st.Meta()
		s.sid, s.cid, s.name = s.meta.ServerID, s.meta.ClusterID, s.meta.Name
		return s, nil
	case raftstore.FormatCCluster:
		l, err := storage.Open(name, storage.MagicClustered, storage.ReadOnly)
		if err != nil {
			return nil, err
		}
		js, err := l.Read()
		if err != nil {
			l.Close()
			return nil, err
		}
		var v any
		if js != nil {
			v = js
		}
		h, err := parseCHeader(v)
		if err != nil {
			l.Close()
			return nil, err
		}
		s.clog, s.hdr = l, h
		s.sid, s.cid, s.name = h.sid, h.cid, h.name
		return s, nil
	}
	// A standalone file: C opens the file for the clustered magic only.
	return nil, ovsdberr.New(ovsdberr.TagOVSDB, "%s: cannot identify file type", name)
}

// checkCRecords is C's loop over the records of one of C's files.
func (t *tool) checkCRecords(c *ccCluster, s *ccServer, minTerm, maxTerm *uint64) error {
	h := s.hdr
	s.snapTerm = h.snap.term
	for id := range h.snap.servers {
		s.snapServers = append(s.snapServers, id)
	}
	s.logStart = h.snapIndex + 1
	s.logEnd = s.logStart
	var term uint64
	var vote, leader schema.UUID
	var leaderRec uint64
	commitIndex := h.snapIndex
	for rec := uint64(1); ; rec++ {
		js, err := s.clog.Read()
		if err != nil {
			return err
		}
		if js == nil {
			break
		}
		r, err := parseCRecord(js)
		if err != nil {
			return err
		}
		if r.term > term {
			term, vote, leader, leaderRec = r.term, schema.UUID{}, schema.UUID{}, 0
		}
		*minTerm = min(*minTerm, term)
		*maxTerm = max(*maxTerm, term)
		switch r.typ {
		case cRecEntry:
			idx := r.index
			if idx < commitIndex {
				return fatalf("%s: record %d attempts to truncate log from %d to %d entries, but commit index is already %d",
					s.filename, rec, s.logEnd, idx, commitIndex)
			} else if idx > s.logEnd {
				return fatalf("%s: record %d with index %d skips past expected index %d", s.filename, rec, idx, s.logEnd)
			}
			if idx < s.logEnd {
				if s.sid == leader {
					return fatalf("%s: record %d truncates log from %d to %d entries while server is leader",
						s.filename, rec, s.logEnd, idx)
				}
				fmt.Fprintf(t.stdout, "%s: record %d truncates log from %d to %d entries\n", s.filename, rec, s.logEnd, idx)
				s.logEnd = idx
				s.entries = s.entries[:s.logEnd-s.logStart]
			}
			prevTerm := s.snapTerm
			if s.logEnd > s.logStart {
				prevTerm = s.entries[s.logEnd-s.logStart-1].term
			}
			if r.term < prevTerm {
				return fatalf("%s: record %d with index %d term %d precedes previous entry's term %d",
					s.filename, rec, idx, r.term, prevTerm)
			}
			s.logEnd++
			e := &r.entry
			ce := ccEntry{term: r.term, key: e.equalKey(), text: string(cjson.Marshal(e.toJSON()))}
			for id := range e.servers {
				ce.servers = append(ce.servers, id)
			}
			if e.servers != nil && ce.servers == nil {
				ce.servers = []string{}
			}
			s.entries = append(s.entries, ce)
		case cRecTerm:
		case cRecVote:
			if r.term < term {
				return fatalf("%s: record %d votes for term %d but current term is %d", s.filename, rec, r.term, term)
			} else if !vote.IsZero() && vote != r.sid {
				return fatalf("%s: record %d votes for %s in term %d but a previous record for the same term voted for %s",
					s.filename, rec, c.serverName(vote), r.term, c.serverName(r.sid))
			}
			vote = r.sid
		case cRecNote:
			if r.note == "left" {
				fmt.Fprintf(t.stdout, "%s: record %d shows that the server left the cluster\n", s.filename, rec)
			}
		case cRecCommitIndex:
			if r.commitIndex < commitIndex {
				return fatalf("%s: record %d regresses commit index from %d to %d", s.filename, rec, commitIndex, r.commitIndex)
			} else if r.commitIndex >= s.logEnd {
				return fatalf("%s: record %d advances commit index to %d but last log index is %d",
					s.filename, rec, r.commitIndex, s.logEnd-1)
			}
			commitIndex = r.commitIndex
			if cm := c.commits[term]; cm != nil {
				if r.commitIndex > cm.index {
					cm.server, cm.index = s, r.commitIndex
				}
			} else {
				c.commits[term] = &ccCommit{server: s, index: r.commitIndex}
			}
		case cRecLeader:
			if r.sid != leader {
				if leader.IsZero() {
					leader, leaderRec = r.sid, rec
				} else {
					return fatalf("%s: record %d reports leader %s for term %d but record %d previously reported the leader as %s in that term",
						s.filename, rec, c.serverName(r.sid), term, leaderRec, c.serverName(leader))
				}
			}
			if err := recordLeader(c, term, s, r.sid); err != nil {
				return err
			}
		}
	}
	s.clog.Close()
	s.clog = nil
	return nil
}

// recordLeader is C's record_leader: the Election Safety property (one
// leader per term).
func recordLeader(c *ccCluster, term uint64, s *ccServer, leader schema.UUID) error {
	isLeader := s.sid == leader
	if p := c.leaders[term]; p != nil {
		if p.leader != leader {
			return fatalf("term %d has two different leaders: %s says that the leader is %s and %s says that the leader is %s",
				term, p.server.filename, c.serverName(p.leader), s.filename, c.serverName(leader))
		}
		if isLeader && s.logEnd > p.logEnd {
			p.logEnd = s.logEnd
		}
		return nil
	}
	p := &ccLeader{server: s, leader: leader}
	if isLeader {
		p.logEnd = s.logEnd
	}
	c.leaders[term] = p
	return nil
}

// checkOurLog checks one of our files (storage/raftstore/DESIGN.md lists
// the checks).
func (t *tool) checkOurLog(s *ccServer, minTerm, maxTerm *uint64) error {
	st := s.st
	if s.meta.Left {
		fmt.Fprintf(t.stdout, "%s: the file shows that the server left the cluster\n", s.filename)
	}
	stable, err := st.Stable()
	if err != nil {
		return ovsdberr.IO(err, "%s: read failed", s.filename)
	}
	snaps, _, err := st.Snapshots()
	if err != nil {
		return fatalf("%s: %v", s.filename, err)
	}
	var snapIndex uint64
	if len(snaps) > 0 {
		s.snap = &snaps[0]
		snapIndex, s.snapTerm = s.snap.Meta.Index, s.snap.Meta.Term
		s.snapServers = configServers(s.snap.Meta.Configuration)
		if err := checkSnapshot(st, s.snap); err != nil {
			return fatalf("%s: snapshot %s (index %d, term %d): %v", s.filename, s.snap.Meta.ID, snapIndex, s.snapTerm, err)
		}
	}
	if stable.LastVoteTerm > stable.CurrentTerm {
		return fatalf("%s: last vote is for term %d but current term is %d", s.filename, stable.LastVoteTerm, stable.CurrentTerm)
	}
	if s.snapTerm > stable.CurrentTerm {
		return fatalf("%s: snapshot has term %d but current term is %d", s.filename, s.snapTerm, stable.CurrentTerm)
	}

	// The log: contiguous indexes from at most the snapshot's next one,
	// terms never decreasing, none above the current term, the entry at
	// the snapshot's index (if kept) of the snapshot's term.
	rec := uint64(0)
	var prevIndex, prevTerm uint64
	err = st.ForEachLog(func(l *hraft.Log, derr error) error {
		rec++
		if derr != nil {
			return fatalf("%s: record %d: %v", s.filename, rec, derr)
		}
		switch {
		case rec == 1 && l.Index > snapIndex+1:
			return fatalf("%s: record %d with index %d skips past expected index %d", s.filename, rec, l.Index, snapIndex+1)
		case rec > 1 && l.Index != prevIndex+1:
			return fatalf("%s: record %d with index %d skips past expected index %d", s.filename, rec, l.Index, prevIndex+1)
		}
		if l.Index == snapIndex+1 {
			prevTerm = max(prevTerm, s.snapTerm)
		}
		if l.Term < prevTerm {
			return fatalf("%s: record %d with index %d term %d precedes previous entry's term %d",
				s.filename, rec, l.Index, l.Term, prevTerm)
		}
		if l.Index == snapIndex && l.Term != s.snapTerm {
			return fatalf("%s: record %d with index %d has term %d but the snapshot at that index has term %d",
				s.filename, rec, l.Index, l.Term, s.snapTerm)
		}
		if l.Term > stable.CurrentTerm {
			return fatalf("%s: record %d with index %d has term %d but the current term is %d",
				s.filename, rec, l.Index, l.Term, stable.CurrentTerm)
		}
		e, err := ourEntry(l)
		if err != nil {
			return fatalf("%s: record %d with index %d: %v", s.filename, rec, l.Index, err)
		}
		if rec == 1 {
			s.logStart = l.Index
		}
		s.entries = append(s.entries, e)
		prevIndex, prevTerm = l.Index, l.Term
		*minTerm = min(*minTerm, l.Term)
		*maxTerm = max(*maxTerm, l.Term)
		return nil
	})
	if err != nil {
		return err
	}
	if rec == 0 {
		s.logStart = snapIndex + 1
	}
	s.logEnd = s.logStart + uint64(len(s.entries))
	last := max(s.logEnd-1, snapIndex)

	// The applied position written with the log: within the log, and of
	// the term of the entry it names.
	if a := stable.Applied; a.Index > 0 {
		if a.Index > last {
			return fatalf("%s: applied index %d is past the last log index %d", s.filename, a.Index, last)
		}
		if a.Index >= s.logStart && a.Index < s.logEnd {
			if e := s.entries[a.Index-s.logStart]; e.term != a.Term {
				return fatalf("%s: applied index %d has term %d but the log entry there has term %d",
					s.filename, a.Index, a.Term, e.term)
			}
		}
	}

	// What C would have as records: log entries, or a term, vote or
	// election timer stored since the file was created.
	if rec > 0 || stable.CurrentTerm > 1 || stable.LastVoteTerm > 0 || s.meta.ElectionTimerMS != 0 {
		*minTerm = min(*minTerm, max(stable.CurrentTerm, 1))
		*maxTerm = max(*maxTerm, max(stable.CurrentTerm, 1))
	}
	return nil
}

// checkSnapshot reads a snapshot whole (its size and CRC-64 are checked
// at the end) into the raft FSM, which checks its layout and every row
// against the schema.
func checkSnapshot(st *raftstore.Store, info *raftstore.SnapshotInfo) error {
	if info.Stored != info.Chunks {
		return fmt.Errorf("%d of %d data chunks present", info.Stored, info.Chunks)
	}
	m := st.Meta()
	s, err := schema.ParseSchemaBytes(m.Schema)
	if err != nil {
		return fmt.Errorf("schema: %s", errText(err))
	}
	_, rc, err := st.SnapshotStore().Open(info.Meta.ID)
	if err != nil {
		return err
	}
	return raft.NewFSM(s, 0).Restore(rc)
}

// configServers lists a configuration's server ids.
func configServers(cfg hraft.Configuration) []string {
	ids := make([]string, 0, len(cfg.Servers))
	for _, srv := range cfg.Servers {
		ids = append(ids, string(srv.ID))
	}
	return ids
}

// ourEntry is one of our log entries for the cross-file checks: its term,
// its content (type and data) and, for a configuration, its servers.
func ourEntry(l *hraft.Log) (e ccEntry, err error) {
	sum := sha256.Sum256(l.Data)
	h := hex.EncodeToString(sum[:8])
	e = ccEntry{term: l.Term, key: fmt.Sprintf("%d/%d/%s", l.Term, l.Type, h)}
	e.text = string(cjson.Marshal(map[string]any{"term": json.Number(u64s(l.Term)), "type": l.Type.String(),
		"size": json.Number(fmt.Sprint(len(l.Data))), "sha256": h}))
	if l.Type == hraft.LogConfiguration {
		cfg, err := decodeConfiguration(l.Data)
		if err != nil {
			return e, err
		}
		e.servers = configServers(cfg)
	}
	return e, nil
}

// decodeConfiguration is hashicorp's DecodeConfiguration, which panics on
// bad data.
func decodeConfiguration(b []byte) (cfg hraft.Configuration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("undecodable configuration: %v", r)
		}
	}()
	return hraft.DecodeConfiguration(b), nil
}
