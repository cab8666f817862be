// Package unixctl implements the Open vSwitch control socket that
// `ovs-appctl -t SOCKET COMMAND [ARG...]` talks to.
//
// The protocol is JSON-RPC 1.0 over a unix stream socket: the client sends
// {"method": COMMAND, "params": [ARG...], "id": N}; the server answers
// {"id": N, "result": TEXT, "error": null} on success or
// {"id": N, "error": TEXT} on failure. As in C, a non-empty TEXT that does
// not end in a newline gets one appended. ovs-appctl prints a result on
// stdout, and an error on stderr followed by
// "ovs-appctl: SOCKET: server returned an error", exiting with status 2.
//
// Commands are registered with a usage string and argument bounds; the
// server checks the bounds with C's messages ("\"X\" command requires at
// least N arguments", "\"X\" command takes at most N arguments") and
// provides the built-in "list-commands" and "version" commands. Stats
// counts the requests received and the replies sent (C's coverage
// counters unixctl_received and unixctl_replied).
package unixctl
