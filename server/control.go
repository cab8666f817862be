package server

// State behind the server's own control commands (ovs-appctl
// ovsdb-server/*).

// controlState is the state of the control commands; its zero value is
// ready.
type controlState struct{}
