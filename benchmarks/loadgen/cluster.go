package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ClusterOptions says how to build and start one Raft cluster of a server
// kind. The same options (schema, election timer, member count) are used
// for the C cluster and ours so that the figures compare.
type ClusterOptions struct {
	Server     string // ovsdb-server executable
	Tool       string // ovsdb-tool matching the server's cluster file format
	SchemaPath string
	Members    int // default 3
	// Arbiters makes the last Arbiters of the Members with `ovsdb-tool
	// join-cluster --arbiter` (our tool only): voters that store the log
	// but hold no database. 0 (the default) makes data members only.
	Arbiters int
	// ElectionTimerMS is passed to `ovsdb-tool create-cluster
	// --election-timer`; 0 keeps the tool's default.
	ElectionTimerMS int
	TempDir         string        // parent of the cluster's directory ("" = os.TempDir())
	StartTimeout    time.Duration // bound for the cluster to elect a leader (default 30 s)
}

// Member is one server process of a cluster with its files.
type Member struct {
	Index  int
	Addr   string // Raft address, tcp:127.0.0.1:PORT
	DBFile string
	Socket string // punix: client remote
	Ctl    string // unixctl socket
	Log    string
	// Arbiter is set for a member made with join-cluster --arbiter
	// (ClusterOptions.Arbiters); it serves no clients and its _Server
	// row never says connected.
	Arbiter bool
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// Cluster is a running cluster started by StartCluster.
type Cluster struct {
	Dir     string
	DBName  string
	Members []*Member
	o       ClusterOptions
}

// freeTCPAddr returns "tcp:127.0.0.1:PORT" for a port that was free a
// moment ago (the listener is closed before the server binds it).
func freeTCPAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "tcp:" + l.Addr().String(), nil
}

// clusterToolArgs returns the ovsdb-tool arguments that create member i of
// a cluster: create-cluster for the first, join-cluster (naming every
// earlier member as a remote) for the others.
func clusterToolArgs(i int, dbFile, dbName, schemaPath string, addrs []string, electionTimerMS int) []string {
	if i == 0 {
		var args []string
		if electionTimerMS > 0 {
			args = append(args, "--election-timer="+strconv.Itoa(electionTimerMS))
		}
		return append(args, "create-cluster", dbFile, schemaPath, addrs[0])
	}
	args := []string{"join-cluster", dbFile, dbName, addrs[i]}
	return append(args, addrs[:i]...)
}

// StartCluster creates the cluster files with o.Tool, starts every member
// and waits until one leader is elected and every member is connected.
// The caller must call Stop.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if o.Members <= 0 {
		o.Members = 3
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.Arbiters < 0 || o.Arbiters >= o.Members {
		return nil, fmt.Errorf("%d arbiters of %d members: at least one data member is needed", o.Arbiters, o.Members)
	}
	dbName, err := SchemaName(o.SchemaPath)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.TempDir, "cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, DBName: dbName, o: o}
	addrs := make([]string, o.Members)
	for i := range addrs {
		if addrs[i], err = freeTCPAddr(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	for i := range o.Members {
		m := &Member{
			Index:  i,
			Addr:   addrs[i],
			DBFile: filepath.Join(dir, fmt.Sprintf("m%d.db", i)),
			Socket: filepath.Join(dir, fmt.Sprintf("m%d.sock", i)),
			Ctl:    filepath.Join(dir, fmt.Sprintf("m%d.ctl", i)),
			Log:    filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
		}
		args := clusterToolArgs(i, m.DBFile, dbName, o.SchemaPath, addrs, o.ElectionTimerMS)
		if i > 0 && i >= o.Members-o.Arbiters {
			m.Arbiter = true
			args = append([]string{args[0], "--arbiter"}, args[1:]...)
		}
		if out, err := exec.CommandContext(ctx, o.Tool, args...).CombinedOutput(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("%s %s: %v: %s", o.Tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		if err := c.startMember(m); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if _, err := c.WaitHealthy(ctx, o.StartTimeout); err != nil {
		msg := c.tails()
		c.StopKeep()
		return nil, fmt.Errorf("cluster of %s: %w%s", o.Server, err, msg)
	}
	return c, nil
}

func (c *Cluster) startMember(m *Member) error {
	out, err := os.OpenFile(filepath.Join(c.Dir, fmt.Sprintf("m%d.stderr", m.Index)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	// Not CommandContext: members are stopped by PID in one place.
	cmd := exec.Command(c.o.Server, "--remote=punix:"+m.Socket, "--unixctl="+m.Ctl,
		"--no-chdir", "--log-file="+m.Log, m.DBFile)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+c.Dir, "OVS_DBDIR="+c.Dir, "OVS_LOGDIR="+c.Dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	m.cmd, m.done, m.err = cmd, make(chan struct{}), nil
	go func(m *Member, cmd *exec.Cmd, done chan struct{}) {
		m.err = cmd.Wait()
		close(done)
	}(m, cmd, m.done)
	return nil
}

// Alive reports whether the member's process is running.
func (m *Member) Alive() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// PID returns the member's process id (0 if not started).
func (m *Member) PID() int {
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Kill sends SIGKILL to the member's process (by PID) and waits for it.
func (m *Member) Kill() {
	if !m.Alive() {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
}

// Restart starts a killed member again on its existing files.
func (c *Cluster) Restart(m *Member) error {
	if m.Alive() {
		return errors.New("member still running")
	}
	return c.startMember(m)
}

// stopMember sends SIGTERM, then SIGKILL after 5 s, and waits.
func stopMember(m *Member) {
	if m.Alive() {
		TermThenKill(m.cmd.Process, m.done)
	}
}

// Stop stops every member and removes the cluster directory.
func (c *Cluster) Stop() {
	c.StopKeep()
	_ = os.RemoveAll(c.Dir)
}

// StopKeep stops every member and keeps the directory for post-mortems.
func (c *Cluster) StopKeep() {
	for _, m := range c.Members {
		stopMember(m)
	}
}

func (c *Cluster) tails() string {
	var b strings.Builder
	for _, m := range c.Members {
		for _, f := range []string{m.Log, filepath.Join(c.Dir, fmt.Sprintf("m%d.stderr", m.Index))} {
			data, err := os.ReadFile(f)
			if err != nil || len(data) == 0 {
				continue
			}
			if len(data) > 600 {
				data = data[len(data)-600:]
			}
			fmt.Fprintf(&b, "\n--- %s:\n%s", filepath.Base(f), strings.TrimSpace(string(data)))
		}
	}
	return b.String()
}

// MemberStatus is a member's own view from its _Server.Database row.
type MemberStatus struct {
	Connected, Leader bool
}

// serverStatusParams selects the database's row of _Server.Database.
func serverStatusParams(dbName string) json.RawMessage {
	p, _ := json.Marshal([]any{"_Server", map[string]any{
		"op": "select", "table": "Database",
		"where":   []any{[]any{"name", "==", dbName}},
		"columns": []any{"connected", "leader"},
	}})
	return p
}

// parseServerStatus reads connected/leader from the select result.
func parseServerStatus(result json.RawMessage) (MemberStatus, error) {
	var res []struct {
		Rows []struct {
			Connected *bool `json:"connected"`
			Leader    *bool `json:"leader"`
		} `json:"rows"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(result, &res); err != nil {
		return MemberStatus{}, fmt.Errorf("_Server select: %w: %.200s", err, result)
	}
	if len(res) != 1 || res[0].Error != "" || len(res[0].Rows) != 1 {
		return MemberStatus{}, fmt.Errorf("_Server select: unexpected result %.200s", result)
	}
	r := res[0].Rows[0]
	if r.Connected == nil || r.Leader == nil {
		return MemberStatus{}, fmt.Errorf("_Server select: missing columns in %.200s", result)
	}
	return MemberStatus{Connected: *r.Connected, Leader: *r.Leader}, nil
}

// Status asks member m for its _Server.Database row.
func (c *Cluster) Status(m *Member, timeout time.Duration) (MemberStatus, error) {
	cl, err := Dial(m.Socket, timeout)
	if err != nil {
		return MemberStatus{}, err
	}
	defer cl.Close()
	_ = cl.SetDeadline(time.Now().Add(timeout))
	r, err := cl.Call("transact", serverStatusParams(c.DBName))
	if err != nil {
		return MemberStatus{}, err
	}
	return parseServerStatus(r)
}

// healthyLeader returns the index of the single leader when every status
// is known and connected and exactly one claims leadership, else -1.
func healthyLeader(st []MemberStatus, ok []bool) int {
	leader := -1
	for i := range st {
		if !ok[i] || !st[i].Connected {
			return -1
		}
		if st[i].Leader {
			if leader >= 0 {
				return -1
			}
			leader = i
		}
	}
	return leader
}

// WaitHealthy polls every live member until all are connected and exactly
// one is the leader, and returns the leader.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) (*Member, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		var live []*Member
		for _, m := range c.Members {
			if m.Alive() {
				live = append(live, m)
			}
		}
		st := make([]MemberStatus, len(live))
		ok := make([]bool, len(live))
		for i, m := range live {
			s, err := c.Status(m, 2*time.Second)
			if err != nil {
				last = fmt.Errorf("member %d: %w", m.Index, err)
				continue
			}
			if m.Arbiter {
				// Its _Server row says neither connected nor leader
				// (it holds no data): answering is all it can show.
				s = MemberStatus{Connected: true}
			}
			st[i], ok[i] = s, true
		}
		if l := healthyLeader(st, ok); l >= 0 {
			return live[l], nil
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = errors.New("no single connected leader")
			}
			return nil, fmt.Errorf("not healthy after %v: %w", timeout, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
