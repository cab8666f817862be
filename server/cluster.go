package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

func clusterLog() *slog.Logger { return slog.Default().With("module", "raft") }

// Cluster is a clustered database member served by a Server: its bbolt
// file, its cluster listener (Raft and forwarding), and its raft.Node. It
// implements Storage.
type Cluster struct {
	store  *raftstore.Store
	mux    *raft.Mux
	trans  *raft.TrackedTransport
	client *raft.Client
	node   *raft.Node
	obs    *hraft.Observer
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu       sync.Mutex
	meta     raftstore.Meta
	leaving  bool
	left     bool
	timer    time.Duration
	elStart  time.Time
	elReason string
	elWon    time.Time
	failed   map[hraft.ServerID]bool // followers whose heartbeats fail (leader)
	lastMsg  map[hraft.ServerID]time.Time
	nDisconn int
}

// IsClusteredFile reports whether path is one of our clustered (bbolt)
// database files.
func IsClusteredFile(path string) bool {
	f, err := raftstore.Sniff(path)
	return err == nil && f == raftstore.FormatBolt
}

// OpenCluster opens the clustered database file at path: it listens on the
// member's cluster address and starts its Raft member. A member created by
// join-cluster first learns the schema and cluster id from one of its
// remotes (retrying until one answers, at most joinHelloTimeout), then asks
// the leader to add it, in the background, until it is added.
func OpenCluster(path string) (*Cluster, error) {
	st, err := raftstore.Open(path)
	if err != nil {
		return nil, err
	}
	c := &Cluster{store: st, meta: st.Meta(), stop: make(chan struct{}), client: raft.NewClient(),
		failed: map[hraft.ServerID]bool{}, lastMsg: map[hraft.ServerID]time.Time{}}
	fail := func(err error) (*Cluster, error) {
		c.client.Close()
		if c.mux != nil {
			c.mux.Close()
		}
		st.Close()
		return nil, err
	}
	c.mux, err = raft.Listen(c.meta.LocalAddress)
	if err != nil {
		return fail(err)
	}
	if c.meta.Joining() && len(c.meta.Schema) == 0 {
		if err := c.hello(); err != nil {
			return fail(err)
		}
	}
	c.timer = time.Duration(c.meta.ElectionTimerMS) * time.Millisecond
	if c.timer <= 0 {
		c.timer = raftstore.DefaultElectionTimerMS * time.Millisecond
	}
	c.trans = c.mux.NewTrackedTransport(0)
	c.node, err = raft.OpenStore(st, c.trans, c.client)
	if err != nil {
		c.trans.Close()
		return fail(err)
	}
	c.mux.SetHandler(&clusterHandler{NodeHandler: raft.NodeHandler{Node: c.node, Meta: c.handlerMeta}, c: c})
	ch := make(chan hraft.Observation, 64)
	c.obs = hraft.NewObserver(ch, false, nil)
	c.node.Raft().RegisterObserver(c.obs)
	c.wg.Add(1)
	go c.observe(ch)
	if c.meta.Left {
		// A member that left stays out: its Raft member is stopped
		// at once, before it could stand for election.
		c.left = true
		clusterLog().Info(fmt.Sprintf("%s: this server left the cluster; not rejoining", c.meta.Name))
		if err := c.node.Close(); err != nil {
			clusterLog().Info("stopping raft of a departed member", "db", c.meta.Name, "err", err)
		}
		return c, nil
	}
	if c.meta.Joining() {
		c.wg.Add(1)
		go c.join()
	}
	c.wg.Add(1)
	go c.checkMembership()
	return c, nil
}

const joinHelloTimeout = 5 * time.Minute

// hello fetches the schema and cluster id of the cluster being joined.
func (c *Cluster) hello() error {
	ctx, cancel := context.WithTimeout(context.Background(), joinHelloTimeout)
	defer cancel()
	resp, err := c.client.Hello(ctx, c.meta.RemoteAddresses)
	if err != nil {
		return fmt.Errorf("%s: cannot reach the cluster to join: %w", c.store.Path(), err)
	}
	cid, err := schema.ParseUUID(resp.ClusterID)
	if err != nil {
		return fmt.Errorf("%s: bad cluster id from remote: %w", c.store.Path(), err)
	}
	if !c.meta.ClusterID.IsZero() && c.meta.ClusterID != cid {
		return fmt.Errorf("%s: remote cluster has cluster ID %s but joining with --cid %s", c.store.Path(), cid, c.meta.ClusterID)
	}
	if resp.Name != c.meta.Name {
		return fmt.Errorf("%s: remote cluster is for database %s, not %s", c.store.Path(), resp.Name, c.meta.Name)
	}
	m := c.meta
	m.ClusterID, m.Schema = cid, []byte(resp.Schema)
	if err := c.store.SetMeta(m); err != nil {
		return err
	}
	c.meta = m
	return nil
}

// join asks the leader to add this member until it is added.
func (c *Cluster) join() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-c.stop
		cancel()
	}()
	c.mu.Lock()
	m := c.meta
	c.mu.Unlock()
	resp, err := c.client.Join(ctx, m.RemoteAddresses, m.ServerID.String(), m.LocalAddress)
	if err != nil {
		clusterLog().Info("join abandoned", "db", m.Name, "err", err)
		return
	}
	m.RemoteAddresses = nil
	if err := c.store.SetMeta(m); err != nil {
		clusterLog().Error("cannot record having joined", "db", m.Name, "err", err)
		return
	}
	c.mu.Lock()
	c.meta = m
	c.mu.Unlock()
	clusterLog().Info(fmt.Sprintf("%s: joined cluster %s (leader %s)", m.Name, raft.Nickname(m.ClusterID.String()), raft.Nickname(resp.LeaderID)))
}

func (c *Cluster) handlerMeta() (schema.UUID, string, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta.Joining() {
		return schema.UUID{}, c.meta.Name, nil
	}
	return c.meta.ClusterID, c.meta.Name, c.meta.Schema
}

// observe records elections and heartbeat failures for cluster/status.
func (c *Cluster) observe(ch chan hraft.Observation) {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case o := <-ch:
			now := time.Now()
			c.mu.Lock()
			switch d := o.Data.(type) {
			case hraft.RaftState:
				switch d {
				case hraft.Candidate:
					c.elStart, c.elReason = now, "timeout"
				case hraft.Leader:
					c.elWon = now
					c.failed = map[hraft.ServerID]bool{}
				}
			case hraft.FailedHeartbeatObservation:
				if !c.failed[d.PeerID] {
					c.failed[d.PeerID] = true
					c.nDisconn++
				}
				c.lastMsg[d.PeerID] = d.LastContact
			case hraft.ResumedHeartbeatObservation:
				delete(c.failed, d.PeerID)
				c.lastMsg[d.PeerID] = now
			case hraft.LeaderObservation:
				if d.LeaderID != "" {
					c.lastMsg[d.LeaderID] = now
				}
			}
			c.mu.Unlock()
		}
	}
}

// Node returns the Raft member.
func (c *Cluster) Node() *raft.Node { return c.node }

// Meta returns the member's current metadata.
func (c *Cluster) Meta() raftstore.Meta {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.meta
}

// Address returns the member's cluster address ("tcp:IP:PORT").
func (c *Cluster) Address() string { return string(c.mux.Address()) }

// Database implements Storage: the member's applied state.
func (c *Cluster) Database() *ovsdb.Database { return c.node.Database() }

// Transact runs a client transaction through the cluster. A member that
// left refuses writes as C's Raft does for a server that is no longer a
// cluster member (RAFT_CMD_SHUTDOWN: "cluster error" / "server
// shutdown"); reads still see its last applied state.
func (c *Cluster) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	if c.Left() && !opts.ReadOnly && !readOnlyTxn(ops) {
		return []any{ovsdberr.ToJSON(ovsdberr.New("cluster error", "server shutdown"))}
	}
	return c.node.Transact(ctx, ops, opts)
}

// readOnlyTxn reports whether ops cannot change the database.
func readOnlyTxn(ops []any) bool {
	for _, op := range ops {
		m, _ := op.(map[string]any)
		switch m["op"] {
		case "select", "wait", "comment", "assert", "abort":
		default:
			return false
		}
	}
	return true
}

// Left reports whether this member has left (or was removed from) its
// cluster.
func (c *Cluster) Left() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left
}

// markLeft records durably that this member is no longer in its cluster
// and stops its Raft member. It is idempotent.
func (c *Cluster) markLeft(why string) {
	c.mu.Lock()
	if c.left {
		c.mu.Unlock()
		return
	}
	c.left, c.leaving = true, false
	m := c.meta
	m.Left = true
	if err := c.store.SetMeta(m); err != nil {
		clusterLog().Error("cannot record having left the cluster", "db", m.Name, "err", err)
	} else {
		c.meta = m
	}
	c.mu.Unlock()
	clusterLog().Info(fmt.Sprintf("%s: finished leaving cluster %s (%s)", m.Name, raft.Nickname(m.ClusterID.String()), why))
	if err := c.node.Close(); err != nil {
		clusterLog().Info("stopping raft after leaving", "db", m.Name, "err", err)
	}
}

// membershipCheck is how often a member looks for its own removal.
const membershipCheck = time.Second

// checkMembership detects that this member was removed while it could not
// be told (down, or the notice was lost): when the latest configuration it
// knows does not list it and the leader confirms, it has left.
func (c *Cluster) checkMembership() {
	defer c.wg.Done()
	t := time.NewTicker(membershipCheck)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		skip := c.left || c.leaving || c.meta.Joining()
		self := hraft.ServerID(c.meta.ServerID.String())
		c.mu.Unlock()
		if skip {
			continue
		}
		f := c.node.Raft().GetConfiguration()
		if f.Error() != nil {
			continue
		}
		var others []string
		listed := false
		for _, s := range f.Configuration().Servers {
			if s.ID == self {
				listed = true
			} else {
				others = append(others, string(s.Address))
			}
		}
		if listed || len(others) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		go func() {
			select {
			case <-c.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		resp, err := c.client.Member(ctx, others, string(self))
		cancel()
		if err == nil && !resp.Member {
			c.markLeft("not in the leader's configuration")
		}
	}
}

// Compact implements Storage: it takes a Raft snapshot (the log is
// truncated behind it).
func (c *Cluster) Compact() error {
	err := c.node.Raft().Snapshot().Error()
	if errors.Is(err, hraft.ErrNothingNewToSnapshot) {
		return nil
	}
	return err
}

// Close implements Storage: leadership is transferred if this member
// leads, then the member, its listener and its file are closed.
func (c *Cluster) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		err = c.node.Close()
		c.node.Raft().DeregisterObserver(c.obs)
		c.wg.Wait()
		c.client.Close()
		c.trans.Close()
		c.mux.Close()
		if cerr := c.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// Connected is C's raft_is_connected: a member that has joined, is not
// leaving, and knows a leader.
func (c *Cluster) Connected() bool {
	c.mu.Lock()
	joining, gone := c.meta.Joining(), c.leaving || c.left
	c.mu.Unlock()
	if joining || gone {
		return false
	}
	addr, _ := c.node.Raft().LeaderWithID()
	return addr != ""
}

// IsLeader reports whether this member leads the cluster.
func (c *Cluster) IsLeader() bool { return c.node.Raft().State() == hraft.Leader }

// StatusText renders cluster/status.
func (c *Cluster) StatusText() (string, error) {
	st, err := c.node.Status()
	if err != nil {
		return "", err
	}
	now := time.Now()
	c.mu.Lock()
	if c.left {
		// C keeps the role a departed member last had (a follower) and
		// no longer knows a leader.
		st.Role, st.LeaderID, st.LeaderAddress = "follower", "", ""
	}
	st.ClusterID = c.meta.ClusterID
	st.ElectionTimer = c.timer
	x := raft.StatusExtra{Joining: c.meta.Joining(), Remotes: c.meta.RemoteAddresses, Leaving: c.leaving, Left: c.left,
		ElectionStart: c.elStart, ElectionReason: c.elReason, ElectionWon: c.elWon, Disconnections: c.nDisconn,
		LastMsg: map[hraft.ServerID]time.Time{}}
	for id, t := range c.lastMsg {
		x.LastMsg[id] = t
	}
	failed := map[hraft.ServerID]bool{}
	for id := range c.failed {
		failed[id] = true
	}
	c.mu.Unlock()
	// Connections as C names them: a leader sends to every other server,
	// a follower receives from its leader.
	ids := make([]string, 0, len(st.Servers))
	for _, s := range st.Servers {
		if s.ID != st.ServerID {
			ids = append(ids, string(s.ID))
		}
	}
	sort.Strings(ids)
	switch st.Role {
	case "leader":
		x.MatchIndex = map[hraft.ServerID]uint64{}
		for id, p := range c.trans.Peers() {
			x.MatchIndex[id] = p.LastLog
			if p.LastContact.After(x.LastMsg[id]) {
				x.LastMsg[id] = p.LastContact
			}
		}
		for _, id := range ids {
			if failed[hraft.ServerID(id)] {
				x.Connections = append(x.Connections, "(->"+raft.Nickname(id)+")")
			} else {
				x.Connections = append(x.Connections, "->"+raft.Nickname(id))
			}
		}
	case "follower":
		if st.LeaderID != "" {
			x.Connections = append(x.Connections, "<-"+raft.Nickname(string(st.LeaderID)))
			x.LastMsg[st.LeaderID] = st.LastContact
		}
	}
	return raft.FormatStatus(st, x, now), nil
}

// Kick removes a server from the cluster (cluster/kick): SERVER is an
// address or a (partial) server id; the best unique match is removed, as
// C does. Kicking oneself is cluster/leave. Replies and errors are C's.
func (c *Cluster) Kick(server string) (string, error) {
	st, err := c.node.Status()
	if err != nil {
		return "", err
	}
	var best hraft.Server
	bestScore, nBest := -1, 0
	for _, s := range st.Servers {
		score := 0
		if string(s.Address) == server {
			score = 1 << 30
		} else if server != "" && len(server) <= len(s.ID) && string(s.ID[:len(server)]) == server {
			score = len(server)
		}
		if score > bestScore {
			best, bestScore, nBest = s, score, 1
		} else if score == bestScore {
			nBest++
		}
	}
	if nBest != 1 || bestScore <= 0 {
		return "", errors.New("unknown server")
	}
	if best.ID == st.ServerID {
		return "", c.Leave()
	}
	if c.IsLeader() {
		if err := c.removeServer(best.ID); err != nil {
			return "", err
		}
		return "started removal", nil
	}
	if err := c.remove(best.ID); err != nil {
		return "", errors.New("failed to send removal request")
	}
	return "sent removal request to leader", nil
}

// Leave removes this member from the cluster (cluster/leave), with C's
// errors.
func (c *Cluster) Leave() error {
	c.mu.Lock()
	switch {
	case c.left:
		c.mu.Unlock()
		return errors.New("already in progress leaving cluster")
	case c.leaving:
		c.mu.Unlock()
		return errors.New("already in progress leaving cluster")
	case c.meta.Joining():
		c.mu.Unlock()
		return errors.New("can't leave while join in progress")
	}
	c.leaving = true
	c.mu.Unlock()
	err := c.remove(hraft.ServerID(c.Meta().ServerID.String()))
	if err != nil {
		c.mu.Lock()
		c.leaving = false
		c.mu.Unlock()
		return err
	}
	c.markLeft("left on request")
	return nil
}

// remove removes id on the leader: locally when this member leads, else
// through the leader's cluster RPC.
func (c *Cluster) remove(id hraft.ServerID) error {
	if c.IsLeader() {
		return c.removeServer(id)
	}
	addr, _ := c.node.Raft().LeaderWithID()
	if addr == "" {
		return errors.New("no leader")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := c.client.Call(ctx, string(addr), &raft.Request{Op: "remove", ID: string(id)})
	if err != nil {
		return err
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return nil
}

// removeServer removes id from the configuration (leader only) and then
// tells the removed member, best effort, that it is no longer a member.
// The leader removing itself just steps down: it is marked left by its
// caller.
func (c *Cluster) removeServer(id hraft.ServerID) error {
	var addr hraft.ServerAddress
	if f := c.node.Raft().GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.ID == id {
				addr = s.Address
			}
		}
	}
	if err := c.node.RemoveServer(id, 10*time.Second); err != nil {
		return err
	}
	if addr == "" || addr == hraft.ServerAddress(c.Meta().LocalAddress) {
		return nil
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		go func() {
			select {
			case <-c.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		resp, err := c.client.Call(ctx, string(addr), &raft.Request{Op: "removed", ID: string(id)})
		if err == nil && resp.Error != "" {
			err = errors.New(resp.Error)
		}
		if err != nil {
			clusterLog().Info("removed server not told of its removal", "server", raft.Nickname(string(id)), "err", err)
		}
	}()
	return nil
}

// ChangeElectionTimer is cluster/change-election-timer with C's rules
// and messages: leader only, 100..600000 ms, at most doubling per step.
// The new timer is applied on this member and sent to the others (C
// replicates it through the log; ours is applied member by member).
func (c *Cluster) ChangeElectionTimer(arg string) (string, error) {
	if !c.IsLeader() {
		return "", errors.New("election timer must be changed through leader.")
	}
	ms := atoll(arg)
	c.mu.Lock()
	cur := c.timer.Milliseconds()
	c.mu.Unlock()
	switch {
	case ms == cur:
		return "change election timer to current value.", nil
	case ms < 100 || ms > 600000:
		return "", errors.New("election timer must be between 100 and 600000, in msec.")
	case ms > cur*2:
		return "", errors.New("election timer increase should not exceed the current value x 2.")
	}
	if err := c.setElectionTimer(int(ms)); err != nil {
		return "", err
	}
	st, _ := c.node.Status()
	for _, s := range st.Servers {
		if s.ID == st.ServerID {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.client.Call(ctx, string(s.Address), &raft.Request{Op: "timer", ID: strconv.FormatInt(ms, 10)})
		cancel()
		if err == nil && resp.Error != "" {
			err = errors.New(resp.Error)
		}
		if err != nil {
			clusterLog().Warn("election timer change not delivered", "server", raft.Nickname(string(s.ID)), "err", err)
		}
	}
	return "change of election timer initiated.", nil
}

// atoll is C's atoll: leading blanks, optional sign, digits; 0 if none.
func atoll(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	v, _ := strconv.ParseInt(s[i:j], 10, 64)
	return v
}

// setElectionTimer applies a new election timer locally and records it.
func (c *Cluster) setElectionTimer(ms int) error {
	d := time.Duration(ms) * time.Millisecond
	r := c.node.Raft()
	rc := r.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = d, d
	if err := r.ReloadConfig(rc); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.meta
	m.ElectionTimerMS = ms
	if err := c.store.SetMeta(m); err != nil {
		return err
	}
	c.meta, c.timer = m, d
	return nil
}

// clusterHandler adds the member-level requests (remove, timer) to the
// node's cluster RPC handler.
type clusterHandler struct {
	raft.NodeHandler
	c *Cluster
}

func (h *clusterHandler) HandleCluster(ctx context.Context, req *raft.Request) *raft.Response {
	switch req.Op {
	case "remove":
		if !h.c.IsLeader() {
			addr, id := h.c.node.Raft().LeaderWithID()
			return &raft.Response{Error: "not leader", NotLeader: true, Leader: string(addr), LeaderID: string(id)}
		}
		if err := h.c.removeServer(hraft.ServerID(req.ID)); err != nil {
			return &raft.Response{Error: err.Error()}
		}
		return &raft.Response{}
	case "removed":
		// The leader tells this member it was removed; only believed
		// for this member's own id.
		if req.ID != h.c.Meta().ServerID.String() {
			return &raft.Response{Error: "not this server"}
		}
		go h.c.markLeft("removed by the leader")
		return &raft.Response{}
	case "member":
		if !h.c.IsLeader() {
			addr, id := h.c.node.Raft().LeaderWithID()
			return &raft.Response{Error: "not leader", NotLeader: true, Leader: string(addr), LeaderID: string(id)}
		}
		resp := &raft.Response{}
		if f := h.c.node.Raft().GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if string(s.ID) == req.ID {
					resp.Member = true
				}
			}
		}
		return resp
	case "timer":
		ms, err := strconv.Atoi(req.ID)
		if err != nil || ms <= 0 {
			return &raft.Response{Error: "bad election timer"}
		}
		if err := h.c.setElectionTimer(ms); err != nil {
			return &raft.Response{Error: err.Error()}
		}
		return &raft.Response{}
	}
	return h.NodeHandler.HandleCluster(ctx, req)
}

// ClusterDB returns the member serving the named clustered database, or
// nil when there is no such clustered database.
func (s *Server) ClusterDB(name string) *Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.dbs[name]; e != nil {
		c, _ := e.storage.(*Cluster)
		return c
	}
	return nil
}

// ClusterDBs returns the clustered members by database name.
func (s *Server) ClusterDBs() map[string]*Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*Cluster{}
	for n, e := range s.dbs {
		if c, ok := e.storage.(*Cluster); ok {
			out[n] = c
		}
	}
	return out
}

// clusterAdapter is the jsonrpc.Database of a clustered database: writes
// go through Raft.
type clusterAdapter struct {
	dbAdapter
	c *Cluster
}

func (a clusterAdapter) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	return a.c.Transact(ctx, ops, opts)
}

// clusterRowState is what _Server.Database shows of a member.
type clusterRowState struct {
	connected, leader bool
	index             uint64
	cid, sid          schema.UUID
}

// clusterRowPoll is how often the _Server row of a member is refreshed.
const clusterRowPoll = 50 * time.Millisecond

// watchCluster keeps e's _Server.Database row up to date (model
// "clustered", connected, leader, cid, sid, index) until c closes.
func (s *Server) watchCluster(e *dbEntry, c *Cluster) {
	var last clusterRowState
	update := func() {
		m := c.Meta()
		st := clusterRowState{connected: c.Connected(), leader: c.IsLeader(), index: c.node.AppliedIndex(),
			sid: m.ServerID}
		if !m.Joining() {
			st.cid = m.ClusterID
		}
		if st == last {
			return
		}
		last = st
		s.setClusterRow(e, st)
	}
	update()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(clusterRowPoll)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				s.mu.Lock()
				gone := s.dbs[e.db.Name()] != e
				s.mu.Unlock()
				if gone {
					return
				}
				update()
			}
		}
	}()
}

func (s *Server) setClusterRow(e *dbEntry, st clusterRowState) {
	t := s.sys.Schema().Tables["Database"]
	old := s.sys.Row("Database", e.rowID)
	if old == nil {
		return
	}
	fields := old.Dense()
	fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	set := func(col string, d schema.Datum) { fields[t.ByName[col].Index] = d }
	set("model", schema.NewScalar("clustered"))
	set("connected", schema.NewScalar(st.connected))
	set("leader", schema.NewScalar(st.leader))
	set("index", schema.NewScalar(int64(st.index)))
	set("sid", schema.NewScalar(st.sid))
	if st.cid.IsZero() {
		set("cid", schema.Datum{})
	} else {
		set("cid", schema.NewScalar(st.cid))
	}
	s.sys.Apply(&ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{
		"Database": {e.rowID: {Old: old, New: ovsdb.NewRow(fields)}},
	}})
}
