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
// --monitor makes the process (the detached child with --detach) a monitor
// that re-executes the program once more as the real daemon, marked by
// OVSDB_GO_DAEMON_MONITORED, and waits for it. The monitor tells its own
// --detach parent that startup completed only when the first daemon is
// ready; a daemon that fails before being ready makes the monitor exit
// with its exit status. The pidfile is written by the daemon, so it names
// the daemon, not the monitor. When the daemon dies the monitor restarts
// it if it crashed, otherwise it logs "pid N died, STATUS, exiting" and
// exits 0, as C does. A crash is, as in C, death by SIGABRT, SIGALRM,
// SIGBUS, SIGFPE, SIGILL, SIGPIPE, SIGSEGV, SIGXCPU or SIGXFSZ, and, for
// a Go program, exit status 2: the status of an unrecovered panic or a
// fatal runtime error (a Go program that receives SIGSEGV through kill
// also dies with status 2). Restarts are logged as C's "N crashes: pid N
// died, STATUS, restarting" under module "daemon_unix(monitor)" and are
// throttled to one every 10 seconds. After a core dump, further core dumps
// are disabled. The monitor does not change its process title.
//
// --user is ignored with a warning.
package daemon
