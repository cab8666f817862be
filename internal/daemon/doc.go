// Package daemon implements C's daemon options: --pidfile[=FILE],
// --detach, --no-chdir, --monitor and --user.
//
// Go cannot fork, so --detach re-executes the program with the same
// arguments in a new session, passing it the write end of a pipe (and the
// environment variable OVSDB_GO_DAEMON_READY_FD). The parent waits until
// the child calls Ready (then exits 0, like C's parent once the child is
// initialised) or until the pipe closes without a byte (the child failed:
// exit 1). The child's stderr reaches the terminal until Ready, then its
// standard descriptors are redirected to /dev/null and, unless --no-chdir,
// it changes directory to "/".
//
// The pidfile holds "PID\n" and is locked with an fcntl write lock for the
// life of the process; starting while another live process holds it fails
// with C's "FILE: already running as pid N, aborting". It is removed at
// exit (Cleanup).
//
// --monitor is accepted and logged as not implemented (no restart
// monitor); --user is ignored with a warning.
package daemon
