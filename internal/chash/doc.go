// Package chash reproduces the iteration order of Open vSwitch's C hash
// tables (struct hmap / struct shash) for string keys, so that Go code can
// emit JSON members and run checks in exactly the order the C ovsdb-server
// does wherever that order is visible to clients.
//
// Model (from reading lib/hmap.c, lib/shash.c and lib/hash.c of OVS 3.1,
// x86_64 without SSE4.2, i.e. the murmur-based portable hash): a key's hash
// is hash_string(key, 0); a node is pushed onto the head of bucket
// hash&mask; after each insertion, when n/2 > mask the table grows to the
// mask computed from n and every node is moved, bucket by bucket and chain
// by chain, to the head of its new bucket; iteration walks buckets 0..mask
// and each chain from its head.
package chash
