package chash

import "math/bits"

// mhashAdd mixes one 32-bit word into h (the portable murmur step).
func mhashAdd(h, data uint32) uint32 {
	if data != 0 {
		data *= 0xcc9e2d51
		data = bits.RotateLeft32(data, 15)
		data *= 0x1b873593
		h ^= data
	}
	h = bits.RotateLeft32(h, 13)
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

// HashBytes is C's hash_bytes(): little-endian 32-bit words, a zero-padded
// tail word, then the length folded in.
func HashBytes(b []byte, basis uint32) uint32 {
	h := basis
	n := len(b)
	i := 0
	for ; n-i >= 4; i += 4 {
		h = mhashAdd(h, uint32(b[i])|uint32(b[i+1])<<8|uint32(b[i+2])<<16|uint32(b[i+3])<<24)
	}
	if i < n {
		var w uint32
		for j := 0; i+j < n; j++ {
			w |= uint32(b[i+j]) << (8 * j)
		}
		h = mhashAdd(h, w)
	}
	return mhashFinish(h ^ uint32(n))
}

// HashString is C's hash_string(s, basis).
func HashString(s string, basis uint32) uint32 { return HashBytes([]byte(s), basis) }

type node struct {
	key  string
	hash uint32
	next *node
}

// Map emulates a C shash for its ordering behaviour only. The zero value is
// an empty map. It is not safe for concurrent use.
type Map struct {
	buckets []*node // len is mask+1; nil means the single inline bucket
	one     *node
	n       int
	index   map[string]*node
}

func (m *Map) mask() uint32 {
	if m.buckets == nil {
		return 0
	}
	return uint32(len(m.buckets) - 1)
}

func (m *Map) bucket(i uint32) **node {
	if m.buckets == nil {
		return &m.one
	}
	return &m.buckets[i]
}

func (m *Map) insertFast(nd *node) {
	b := m.bucket(nd.hash & m.mask())
	nd.next = *b
	*b = nd
	m.n++
}

// calcMask mirrors hmap's calc_mask(): the smallest 2^k-1 covering n/2,
// at least 3 once buckets are allocated.
func calcMask(n int) uint32 {
	mask := uint64(n / 2)
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	mask |= mask >> 32
	mask |= (mask & 1) << 1
	return uint32(mask)
}

func (m *Map) resize(newMask uint32) {
	old := *m
	*m = Map{index: old.index}
	if newMask > 0 {
		m.buckets = make([]*node, newMask+1)
	}
	for i := uint32(0); i <= old.mask(); i++ {
		for nd := *old.bucket(i); nd != nil; {
			next := nd.next
			m.insertFast(nd)
			nd = next
		}
	}
}

// Add inserts key as shash_add/hmap_insert do (including growth). Adding a
// key already present does nothing, as C's shash_replace (used by the JSON
// parser for objects) keeps the first position.
func (m *Map) Add(key string) {
	if m.index == nil {
		m.index = map[string]*node{}
	}
	if m.index[key] != nil {
		return
	}
	nd := &node{key: key, hash: HashString(key, 0)}
	m.index[key] = nd
	m.insertFast(nd)
	if uint32(m.n/2) > m.mask() {
		if nm := calcMask(m.n); nm > m.mask() {
			m.resize(nm)
		}
	}
}

// Len returns the number of keys.
func (m *Map) Len() int { return m.n }

// Keys returns the keys in C's SHASH_FOR_EACH order.
func (m *Map) Keys() []string {
	out := make([]string, 0, m.n)
	for i := uint32(0); i <= m.mask(); i++ {
		for nd := *m.bucket(i); nd != nil; nd = nd.next {
			out = append(out, nd.key)
		}
	}
	return out
}

// Order returns the iteration order of a C shash into which keys were
// inserted in the given order (duplicates after the first are ignored).
func Order(keys ...string) []string {
	var m Map
	for _, k := range keys {
		m.Add(k)
	}
	return m.Keys()
}
