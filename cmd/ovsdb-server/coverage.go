package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Coverage counters: C's coverage/show and coverage/read-counter.
//
// The counter names are the 112 that C's ovsdb-server 3.1 registers, in
// the order it registers them (the order coverage/show lists them in), so
// that coverage/read-counter knows the same names. The counts are ours:
// a counter counts the events of this server that match its C meaning,
// and the others (C's internals: poll loop, hash maps, allocator,
// datapath) stay at zero, "never hit":
//
//	unixctl_received, unixctl_replied  control requests received, replies sent
//	pstream_open   listeners opened by this binary: the control socket and
//	               the punix:/ptcp: remotes of the command line and of
//	               ovsdb-server/add-remote (not the db: remotes' listeners)
//	lockfile_lock  database files opened (each is locked, as C locks it)
//	process_start  the --run command started
//
// The rates are C's: per second over the last 5-second interval, the last
// minute and the last hour, updated every 5 seconds.
var coverageNames = []string{
	"txn_forward_cancel", "txn_forward_complete", "txn_forward_create", "txn_forward_sent",
	"raft_entry_serialize", "hmap_pathological", "hmap_expand", "hmap_shrink", "hmap_reserve",
	"lockfile_lock", "lockfile_error", "lockfile_unlock", "poll_create_node", "poll_zero_timeout",
	"process_start", "seq_change", "pstream_open", "stream_open", "unixctl_received",
	"unixctl_replied", "util_xalloc", "afxdp_cq_empty", "afxdp_fq_full", "afxdp_tx_full",
	"afxdp_cq_skip", "netdev_received", "netdev_sent", "netdev_add_router", "netdev_get_stats",
	"netdev_send_prepare_drops", "netdev_push_header_drops", "netdev_set_policing",
	"netdev_arp_lookup", "netdev_get_ifindex", "netdev_get_hwaddr", "netdev_set_hwaddr",
	"netdev_get_ethtool", "netdev_set_ethtool", "netlink_overflow", "netlink_received",
	"netlink_recv_jumbo", "netlink_sent", "cmap_expand", "cmap_shrink", "dpif_destroy",
	"dpif_port_add", "dpif_port_del", "dpif_flow_flush", "dpif_flow_get", "dpif_flow_put",
	"dpif_flow_del", "dpif_execute", "dpif_purge", "dpif_execute_with_help", "dpif_meter_set",
	"dpif_meter_get", "dpif_meter_del", "flow_extract", "miniflow_extract_ipv4_pkt_len_error",
	"miniflow_extract_ipv4_pkt_too_short", "miniflow_extract_ipv6_pkt_len_error",
	"miniflow_extract_ipv6_pkt_too_short", "miniflow_malloc", "datapath_drop_sample_error",
	"datapath_drop_nsh_decap_error", "drop_action_of_pipeline", "drop_action_bridge_not_found",
	"drop_action_recursion_too_deep", "drop_action_too_many_resubmit",
	"drop_action_stack_too_deep", "drop_action_no_recirculation_context",
	"drop_action_recirculation_conflict", "drop_action_too_many_mpls_labels",
	"drop_action_invalid_tunnel_metadata", "drop_action_unsupported_packet_type",
	"drop_action_congestion", "drop_action_forwarding_disabled", "nln_changed", "ccmap_expand",
	"ccmap_shrink", "conntrack_full", "conntrack_l3csum_err", "conntrack_l4csum_err",
	"conntrack_lookup_natted_miss", "datapath_drop_meter", "datapath_drop_upcall_error",
	"datapath_drop_lock_error", "datapath_drop_userspace_action_error",
	"datapath_drop_tunnel_push_error", "datapath_drop_tunnel_pop_error",
	"datapath_drop_recirc_error", "datapath_drop_invalid_port", "datapath_drop_invalid_bond",
	"datapath_drop_invalid_tnl_port", "datapath_drop_rx_invalid_packet", "hindex_pathological",
	"hindex_expand", "hindex_shrink", "hindex_reserve", "ipf_stuck_frag_list_purged",
	"ipf_l3csum_err", "conntrack_tcp_seq_chk_bypass", "conntrack_tcp_seq_chk_failed",
	"conntrack_invalid_tcp_flags", "txn_uncommitted", "txn_unchanged", "txn_incomplete",
	"txn_aborted", "txn_success", "txn_try_again", "txn_not_locked", "txn_error",
}

const (
	coverageRunInterval = 5 * time.Second
	coverageMinAvgLen   = int(time.Minute / coverageRunInterval) // 12
	coverageHrAvgLen    = 60
)

// coverageCounter is one counter: its total, the total at the last run,
// and the per-interval counts of the last minute and per-minute counts of
// the last hour (C's min and hr arrays).
type coverageCounter struct {
	name      string
	source    func() uint64 // nil: counted by add
	total     uint64
	lastTotal uint64
	min       [coverageMinAvgLen]uint32
	hr        [coverageHrAvgLen]uint32
}

type coverageSet struct {
	mu       sync.Mutex
	counters []*coverageCounter
	byName   map[string]*coverageCounter
	idx      uint32 // C's idx_count
	runAt    time.Time
	now      func() time.Time
}

func newCoverage() *coverageSet {
	c := &coverageSet{byName: map[string]*coverageCounter{}, now: time.Now}
	for _, n := range coverageNames {
		cc := &coverageCounter{name: n}
		c.counters = append(c.counters, cc)
		c.byName[n] = cc
	}
	return c
}

// add counts n events of the named counter.
func (c *coverageSet) add(name string, n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc := c.byName[name]; cc != nil {
		cc.total += n
	}
}

// setSource makes the named counter read its total from fn.
func (c *coverageSet) setSource(name string, fn func() uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc := c.byName[name]; cc != nil {
		cc.source = fn
	}
}

// sync brings the totals of the counters read from a source up to date.
// c.mu held.
func (c *coverageSet) sync() {
	for _, cc := range c.counters {
		if cc.source != nil {
			cc.total = cc.source()
		}
	}
}

// run is C's coverage_run: once per interval it spreads the counts since
// the last run over the elapsed intervals of the minute and hour arrays.
func (c *coverageSet) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.runAt.IsZero() {
		c.runAt = now.Add(coverageRunInterval)
		return
	}
	if now.Before(c.runAt) {
		return
	}
	c.sync()
	slots := int(now.Sub(c.runAt)/coverageRunInterval) + 1
	const ring = uint32(coverageMinAvgLen * coverageHrAvgLen)
	for _, cc := range c.counters {
		count := uint32(cc.total - cc.lastTotal)
		cc.lastTotal = cc.total
		portion := count / uint32(slots)
		idx := c.idx
		for j := 0; j < slots; j++ {
			m := idx % uint32(coverageMinAvgLen)
			h := idx / uint32(coverageMinAvgLen)
			cc.min[m] = portion
			if j == slots-1 {
				cc.min[m] += count % uint32(slots)
			}
			if m == 0 {
				cc.hr[h] = cc.min[m]
			} else {
				cc.hr[h] += cc.min[m]
			}
			idx = (idx + 1) % ring
		}
	}
	c.idx = (c.idx + uint32(slots)) % ring
	c.runAt = now.Add(coverageRunInterval)
}

// start runs c.run every interval until stop is closed.
func (c *coverageSet) start(stop <-chan struct{}) {
	c.run()
	go func() {
		t := time.NewTicker(coverageRunInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c.run()
			}
		}
	}()
}

// hash is C's coverage_hash: the counters grouped by equal non-zero
// totals (in decreasing order of total, then by name), each group hashed
// with its first rank and its names, then the number of groups.
func (c *coverageSet) hash() uint32 {
	sorted := append([]*coverageCounter(nil), c.counters...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.total != b.total {
			return a.total > b.total
		}
		return a.name < b.name
	})
	var h uint32
	groups := 0
	for i := 0; i < len(sorted); {
		if sorted[i].total == 0 {
			break
		}
		groups++
		h = ovsHashInt(uint32(i), h)
		j := i
		for ; j < len(sorted) && sorted[j].total == sorted[i].total; j++ {
			h = ovsHashString(sorted[j].name, h)
		}
		i = j
	}
	return ovsHashInt(uint32(groups), h)
}

// show is coverage/show.
func (c *coverageSet) show() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sync()
	var b strings.Builder
	fmt.Fprintf(&b, "Event coverage, avg rate over last: %d seconds, last minute, last hour,  hash=%08x:\n",
		int(coverageRunInterval/time.Second), c.hash())
	never := 0
	for _, cc := range c.counters {
		if cc.total == 0 {
			never++
			continue
		}
		var minSum, hrSum uint32
		for _, v := range cc.min {
			minSum += v
		}
		for _, v := range cc.hr {
			hrSum += v
		}
		last := cc.min[(c.idx-1)%uint32(coverageMinAvgLen)]
		fmt.Fprintf(&b, "%-24s %5.1f/sec %9.3f/sec %13.4f/sec   total: %d\n", cc.name,
			float64(last)*1000.0/float64(coverageRunInterval/time.Millisecond),
			float64(minSum)/60.0, float64(hrSum)/3600.0, cc.total)
	}
	fmt.Fprintf(&b, "%d events never hit\n", never)
	return b.String()
}

// read is coverage/read-counter.
func (c *coverageSet) read(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc := c.byName[name]
	if cc == nil {
		return "", errors.New("No such counter")
	}
	c.sync()
	return fmt.Sprintf("%d\n", cc.total), nil
}

// OVS's hash functions (lib/hash.h, the portable MurmurHash3-based
// variant a generic x86-64 build uses), for coverage/show's hash.

func hashRot(x uint32, k uint) uint32 { return x<<k | x>>(32-k) }

func mhashAdd(h, data uint32) uint32 {
	if data != 0 {
		data *= 0xcc9e2d51
		data = hashRot(data, 15)
		data *= 0x1b873593
		h ^= data
	}
	h = hashRot(h, 13)
	return h*5 + 0xe6546b64
}

func mhashFinish(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

func hashFinish(h, final uint32) uint32 { return mhashFinish(h ^ final) }

// ovsHashInt is hash_int (hash_2words(x, basis)).
func ovsHashInt(x, basis uint32) uint32 {
	return hashFinish(mhashAdd(mhashAdd(x, 0), basis), 8)
}

// ovsHashString is hash_string (hash_bytes of the string).
func ovsHashString(s string, basis uint32) uint32 {
	h := basis
	b := []byte(s)
	for len(b) >= 4 {
		h = mhashAdd(h, uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24)
		b = b[4:]
	}
	if len(b) > 0 {
		var tmp uint32
		for i, c := range b {
			tmp |= uint32(c) << (8 * i)
		}
		h = mhashAdd(h, tmp)
	}
	return hashFinish(h, uint32(len(s)))
}
