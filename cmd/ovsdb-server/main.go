package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/activebackup"
	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/internal/daemon"
	"github.com/ovsdb-go/ovsdb-server/internal/gctune"
	"github.com/ovsdb-go/ovsdb-server/internal/unixctl"
	"github.com/ovsdb-go/ovsdb-server/internal/version"
	"github.com/ovsdb-go/ovsdb-server/internal/vlog"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

const program = "ovsdb-server"

// versionText is what --version prints and the control command "version"
// replies: C's line, then the line that names this project
// (internal/version).
var versionText = version.Text(program)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func dbDir() string {
	if d := os.Getenv("OVS_DBDIR"); d != "" {
		return d
	}
	if d := os.Getenv("OVS_SYSCONFDIR"); d != "" {
		return filepath.Join(d, "openvswitch")
	}
	return "/etc/openvswitch"
}

func logDir() string {
	if d := os.Getenv("OVS_LOGDIR"); d != "" {
		return d
	}
	return "/var/log/openvswitch"
}

type config struct {
	// cluster configures the clustered members (--no-leader-write-timeout).
	cluster   cluster.Options
	dbs       []string
	remotes   []string
	unixctl   string
	daemon    daemon.Options
	pidfile   bool
	logFile   *string
	verbose   []string
	ignored   []string
	help, ver bool
	// noStandaloneHistory: --disable-standalone-history.
	noStandaloneHistory bool
	// run is --run's command (nil: not given).
	run *string
	// replay names --record or --replay, which this server refuses.
	replay []string
	// ssl holds the SSL options (tls.go).
	ssl sslOptions
	// noDBs: --no-dbs (no default database when none is named).
	noDBs bool
	// syncFrom (--sync-from) and syncExclude (--sync-exclude-tables):
	// nil when not given; active: --active. The server starts as a
	// backup of syncFrom unless active.
	syncFrom, syncExclude *string
	active                bool
}

type optKind int

const (
	noArg optKind = iota
	reqArg
	optArg
)

var longOpts = map[string]optKind{
	"remote": reqArg, "unixctl": reqArg, "run": reqArg, "help": noArg, "version": noArg,
	"pidfile": optArg, "overwrite-pidfile": noArg, "detach": noArg, "no-chdir": noArg,
	"monitor": noArg, "user": reqArg, "log-file": optArg, "verbose": optArg,
	"syslog-method": reqArg, "syslog-target": reqArg,
	"private-key": reqArg, "certificate": reqArg, "ca-cert": reqArg, "bootstrap-ca-cert": reqArg,
	"peer-ca-cert": reqArg, "ssl-protocols": reqArg, "ssl-ciphers": reqArg,
	"sync-from": reqArg, "sync-exclude-tables": reqArg, "active": noArg, "no-dbs": noArg,
	"disable-file-column-diff": noArg, "record": optArg, "replay": optArg,
	"disable-standalone-history": noArg, "no-leader-write-timeout": reqArg,
}

var shortOpts = map[byte]string{'h': "help", 'V': "version", 'v': "verbose", 'p': "private-key", 'c': "certificate", 'C': "ca-cert"}

// parseArgs parses the command line like C's getopt_long (permuting
// non-option arguments, accepting unambiguous prefixes of long options).
func parseArgs(args []string) (*config, error) {
	cfg := &config{}
	apply := func(name string, val *string) error {
		v := ""
		if val != nil {
			v = *val
		}
		switch name {
		case "remote":
			cfg.remotes = append(cfg.remotes, v)
		case "unixctl":
			cfg.unixctl = v
		case "help":
			cfg.help = true
		case "version":
			cfg.ver = true
		case "pidfile":
			cfg.pidfile = true
			cfg.daemon.PidFile = v
		case "detach":
			cfg.daemon.Detach = true
		case "no-chdir":
			cfg.daemon.NoChdir = true
		case "monitor":
			cfg.daemon.Monitor = true
		case "user":
			cfg.daemon.User = v
		case "log-file":
			s := v
			cfg.logFile = &s
		case "verbose":
			cfg.verbose = append(cfg.verbose, v)
		case "disable-standalone-history":
			cfg.noStandaloneHistory = true
		case "run":
			s := v
			cfg.run = &s
		case "record", "replay":
			cfg.replay = append(cfg.replay, "--"+name)
		case "private-key":
			cfg.ssl.PrivateKey = v
		case "certificate":
			cfg.ssl.Certificate = v
		case "ca-cert":
			cfg.ssl.CACert, cfg.ssl.BootstrapCACert = v, false
		case "bootstrap-ca-cert":
			cfg.ssl.CACert, cfg.ssl.BootstrapCACert = v, true
		case "peer-ca-cert":
			cfg.ssl.PeerCACert = v
		case "ssl-protocols":
			cfg.ssl.Protocols = v
		case "ssl-ciphers":
			cfg.ssl.Ciphers = v
		case "no-leader-write-timeout":
			// Ours (C waits forever): milliseconds a clustered write waits
			// for a leader when there is none; 0: wait forever.
			ms, err := strconv.Atoi(*val)
			if err != nil || ms < 0 {
				return fmt.Errorf("--no-leader-write-timeout: bad value %q", *val)
			}
			cfg.cluster.NoLeaderWriteTimeout = time.Duration(ms) * time.Millisecond
			if ms == 0 {
				cfg.cluster.NoLeaderWriteTimeout = -1
			}
		case "no-dbs":
			cfg.noDBs = true
		case "sync-from":
			s := v
			cfg.syncFrom = &s
		case "sync-exclude-tables":
			s := v
			cfg.syncExclude = &s
		case "active":
			cfg.active = true
		case "overwrite-pidfile":
		default:
			cfg.ignored = append(cfg.ignored, "--"+name)
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			cfg.dbs = append(cfg.dbs, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			full, err := lookupLong(name, a)
			if err != nil {
				return nil, err
			}
			kind := longOpts[full]
			switch kind {
			case noArg:
				if hasVal {
					return nil, fmt.Errorf("option '--%s' doesn't allow an argument", full)
				}
				_ = apply(full, nil)
			case reqArg:
				if !hasVal {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option '--%s' requires an argument", full)
					}
					i++
					val = args[i]
				}
				if err := apply(full, &val); err != nil {
					return nil, err
				}
			case optArg:
				if hasVal {
					_ = apply(full, &val)
				} else {
					_ = apply(full, nil)
				}
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				name, ok := shortOpts[a[j]]
				if !ok {
					return nil, fmt.Errorf("invalid option -- '%c'", a[j])
				}
				switch longOpts[name] {
				case noArg:
					_ = apply(name, nil)
					continue
				case optArg:
					if j+1 < len(a) {
						v := a[j+1:]
						_ = apply(name, &v)
					} else {
						_ = apply(name, nil)
					}
				case reqArg:
					var v string
					if j+1 < len(a) {
						v = a[j+1:]
					} else if i+1 < len(args) {
						i++
						v = args[i]
					} else {
						return nil, fmt.Errorf("option requires an argument -- '%c'", a[j])
					}
					_ = apply(name, &v)
				}
				break
			}
		default:
			cfg.dbs = append(cfg.dbs, a)
		}
	}
	return cfg, nil
}

func lookupLong(name, arg string) (string, error) {
	if _, ok := longOpts[name]; ok {
		return name, nil
	}
	var matches []string
	for n := range longOpts {
		if strings.HasPrefix(n, name) {
			matches = append(matches, n)
		}
	}
	if len(matches) == 1 && name != "" {
		return matches[0], nil
	}
	if len(matches) > 1 && name != "" {
		return "", fmt.Errorf("option '%s' is ambiguous", arg)
	}
	return "", fmt.Errorf("unrecognized option '%s'", strings.SplitN(arg, "=", 2)[0])
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `%s: Open vSwitch database server
usage: %s [OPTIONS] [DATABASE...]
where each DATABASE is a database file in ovsdb format.
The default DATABASE, if none is given, is
%s/conf.db.

JSON-RPC options (may be specified any number of times):
  --remote=REMOTE         connect or listen to REMOTE

Passive JSON-RPC connection methods:
  ptcp:PORT[:IP]          listen to TCP PORT on IP
  punix:FILE              listen on Unix domain socket FILE

Daemon options:
  --detach                run in background as daemon
  --monitor               creates a process to monitor this daemon
  --user=username[:group] accepted and ignored
  --no-chdir              do not chdir to '/'
  --pidfile[=FILE]        create pidfile (default: %s/%s.pid)

Logging options:
  -vSPEC, --verbose=SPEC   set logging levels
  -v, --verbose            set maximum verbosity level
  --log-file[=FILE]        enable logging to specified FILE
                           (default: %s/%s.log)

SSL options (for pssl: and ssl: remotes; each may be a
db:DB,TABLE,COLUMN reference):
  -p, --private-key=FILE  file with this server's private key
  -c, --certificate=FILE  file with this server's certificate
  -C, --ca-cert=FILE      file with the CA certificate peers must have
  --bootstrap-ca-cert=FILE  as --ca-cert, obtained from the first peer
  --peer-ca-cert=FILE     extra CA certificate sent to peers
  --ssl-protocols=LIST    SSL protocols to enable
  --ssl-ciphers=LIST      SSL cipher list

Syncing options:
  --sync-from=SERVER      sync DATABASE from active SERVER and start in
                          backup mode (except with --active)
  --sync-exclude-tables=DB:TABLE,...
                          exclude the TABLE in DB from syncing
  --active                with --sync-from, start in active mode

Other options:
  --run COMMAND           run COMMAND through /bin/sh, exit when it ends
  --no-dbs                serve no database unless one is named
  --disable-standalone-history
                          keep no transaction history for standalone
                          databases (and _Server), as C ovsdb-server:
                          monitor_cond_since and update3 then always carry
                          the all-zeros last-txn-id and a reconnecting
                          client gets the full contents again
  --unixctl=SOCKET        override default control socket name
  -h, --help              display this help message
  -V, --version           display version information
`, program, program, dbDir(), daemon.RunDir(), program, logDir(), program)
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if err != nil {
		// getopt names the program as invoked.
		fmt.Fprintf(stderr, "%s: %v\n", os.Args[0], err)
		return 1
	}
	if cfg.help {
		usage(stdout)
		return 0
	}
	if cfg.ver {
		fmt.Fprintln(stdout, versionText)
		return 0
	}

	logger := vlog.New("ovsdb_server")
	logger.SetConsole(stderr)
	for _, spec := range cfg.verbose {
		if err := logger.SetLevelsFromString(spec); err != nil {
			fmt.Fprintf(stderr, "%s: processing \"%s\": %v\n", program, spec, err)
			return 1
		}
	}
	slog.SetDefault(slog.New(logger.Handler()))
	log := slog.Default().With("module", "ovsdb_server")
	fatal := func(msg string) int {
		log.Log(context.Background(), vlog.LevelEmer, msg)
		fmt.Fprintf(stderr, "%s: %s\n", program, msg)
		return 1
	}

	if len(cfg.replay) > 0 {
		// C records (--record) or replays (--replay) every stream's
		// traffic in files; this server does neither.
		return fatal(fmt.Sprintf("%s: stream recording and replay are not supported by this server", cfg.replay[0]))
	}
	if len(cfg.dbs) == 0 && !cfg.noDBs {
		cfg.dbs = []string{filepath.Join(dbDir(), "conf.db")}
	}
	// Make paths absolute before a detached daemon changes directory.
	for i, p := range cfg.dbs {
		if abs, err := filepath.Abs(p); err == nil {
			cfg.dbs[i] = abs
		}
	}
	if cfg.pidfile {
		cfg.daemon.PidFile = absUnder(daemon.PidFilePath(cfg.daemon.PidFile, program))
	}
	// As C's config_tmpfile: the remotes and databases changed at run time
	// survive a restart by --monitor. A restarted daemon takes them from
	// there rather than from the command line.
	rc, err := openRunConfig(cfg)
	if err != nil {
		return fatal(err.Error())
	}
	liveRunConfig = rc

	// The log file is opened before daemon.Start so that a --monitor
	// process logs the daemon's crashes and restarts there too.
	if cfg.daemon.Detach && (daemon.IsDetachedChild() || daemon.IsMonitoredChild()) {
		// As C: only the foreground process logs to the console.
		logger.SetLevel("", vlog.Console, vlog.OFF)
	}
	if cfg.logFile != nil {
		path := *cfg.logFile
		if path == "" {
			path = filepath.Join(logDir(), program+".log")
		}
		if err := logger.SetLogFile(absUnder(path)); err != nil {
			log.Warn(fmt.Sprintf("failed to open %s for logging (%v)", path, err))
		}
	}
	d, err := daemon.Start(cfg.daemon)
	if err != nil {
		return fatal(err.Error())
	}
	defer d.Cleanup()
	if d.Detached() {
		// As C: a daemon does not log to the console.
		logger.SetLevel("", vlog.Console, vlog.OFF)
	}
	for _, o := range cfg.ignored {
		log.Warn(fmt.Sprintf("%s is not supported by this server, ignoring it", o))
	}
	if cfg.run == nil {
		// As C: with --run, ovsdb-server is more a command-line tool
		// than a daemon and does not log its version.
		log.Info(version.C(program))
		log.Info(version.Line())
	}
	covs := newCoverage()
	stop := make(chan struct{})
	defer close(stop)

	// Process-wide settings are the binary's, never the library's: the
	// garbage collector's target adapts to the live heap.
	gctune.Start()
	// The replication modes this binary serves: clustered files open as
	// Raft members, the others as standalone databases under
	// active-backup replication (a backup of the active server while
	// --sync-from or connect-active-ovsdb-server makes it one).
	var srv *server.Server
	// One TLS configuration serves the pssl:/ssl: remotes, the Raft
	// connections of members on ssl: addresses (clustertls.go) and the
	// replication's connections to an ssl: active server.
	tc, err := clusterTLS(&cfg.ssl, log)
	if err != nil {
		return fatal(err.Error())
	}
	repl := activebackup.New(activebackup.Options{
		ServerID:    func() string { return srv.ServerID() },
		SetReadOnly: func(b bool) { srv.SetReadOnly(b) },
		TLS:         tc,
	})
	// An idle arbiter member returns its free heap to the system (the
	// program's choice; the library changes nothing process-wide).
	cfg.cluster.ReleaseMemory = debug.FreeOSMemory
	cfg.cluster.TLS = tc
	srv = server.New(server.Options{Open: repl.Opener(cfg.cluster.Opener(nil)), DisableStandaloneHistory: cfg.noStandaloneHistory})
	defer srv.Close()
	defer repl.Close() // before the databases close
	backup := configureSync(repl, cfg, log)
	if backup {
		// As C: a backup's sessions are read-only from the start.
		srv.SetReadOnly(true)
	}
	for _, p := range cfg.dbs {
		if err := srv.AddDatabase(p); err != nil {
			return fatal(err.Error())
		}
		covs.add("lockfile_lock", 1)
	}
	// As C: a "db:" remote naming a missing database, table or column is
	// fatal at startup (one line per bad remote, then an empty line; C
	// lists several in its hash-set order, we in command-line order).
	var remoteErrs strings.Builder
	// The TLS configuration of the pssl:/ssl: remotes exists before them
	// (empty until the SSL options are applied below).
	ssl := newSSLWatch(&cfg.ssl, srv, log, tc)
	for _, r := range cfg.remotes {
		if err := addRemote(srv, log, r); err != nil {
			remoteErrs.WriteString(err.Error() + "\n")
		} else if passiveRemote(r) {
			covs.add("pstream_open", 1)
		}
	}
	// As C: the SSL options' db: references are checked after the
	// remotes, and their errors are fatal at startup too.
	if remoteErrs.Len() == 0 {
		if _, errs := cfg.ssl.resolve(srv); errs != "" {
			remoteErrs.WriteString(errs)
		}
	}
	if remoteErrs.Len() > 0 {
		return fatal(remoteErrs.String())
	}
	// A TLS option that cannot be honoured is fatal at startup.
	if err := ssl.start(); err != nil {
		return fatal(err.Error())
	}
	ssl.check()
	if backup {
		// Once the SSL options apply, for an ssl: active server.
		_ = repl.Connect()
	}
	go ssl.run(2500*time.Millisecond, stop)

	ctl := unixctl.New(versionText)
	ctlPath := unixctl.SocketPath(cfg.unixctl, program)
	if err := ctl.Listen(ctlPath); err != nil {
		return fatal(err.Error())
	}
	if ctlPath != "none" {
		covs.add("pstream_open", 1)
	}
	covs.setSource("unixctl_received", func() uint64 { r, _ := ctl.Stats(); return r })
	covs.setSource("unixctl_replied", func() uint64 { _, r := ctl.Stats(); return r })
	covs.start(stop)
	exitCh := make(chan struct{}, 1)
	env := &controlEnv{
		ctl: ctl, srv: srv, repl: repl, log: log, exitCh: exitCh, covs: covs,
		tlog: newTableLogs(log), perfEvents: perfEventsAvailable(), ssl: ssl,
		saveConfig: func() {
			files := srv.DatabaseFiles()
			for i, f := range files {
				files[i] = absUnder(f)
			}
			from, given := repl.ActiveServer(), repl.ActiveServer() != ""
			sc := syncConfig{IsBackup: repl.IsBackup()}
			if given {
				sc.SyncFrom = &from
			}
			if ex, ok := repl.ExcludeTablesSetting(); ok {
				sc.SyncExclude = &ex
			}
			if err := rc.save(srv.ListRemotes(), files, sc); err != nil {
				log.Error(err.Error())
			}
		},
	}
	registerCommands(env)
	logger.RegisterCommands(ctl)
	// A cluster/failure-test crash ends the process as C's ovs_fatal does:
	// the files C unlinks at exit go first (pid file, control socket,
	// punix: sockets; package cluster removes the members' own unix
	// sockets), then "PROGRAM: LINE" on standard error and exit status 1.
	cluster.SetFailureCrash(func(msg string) {
		for _, t := range srv.RemoteTargets() {
			if a := srv.RemoteAddr(t); a != nil && a.Network() == "unix" {
				_ = os.Remove(a.String())
			}
		}
		if ctlPath != "none" {
			_ = os.Remove(ctlPath)
		}
		d.Cleanup()
		fmt.Fprintf(stderr, "%s: %s\n", program, msg)
		os.Exit(1)
	})

	// --run: C starts the command once the control socket serves, and
	// exits when it ends.
	var child *runChild
	if cfg.run != nil {
		var err error
		child, err = startRun(*cfg.run, stdout, stderr)
		if err != nil {
			return fatal(err.Error())
		}
		covs.add("process_start", 1)
	}

	if backup {
		// A backup's start completes (--detach returns) once it holds
		// the active server's contents, or after a second: ovn-ctl reads
		// a new backup at once (`ovn-nbctl init`), which finds C's
		// faster-starting backup already synced.
		repl.WaitReplicating(time.Second)
	}
	d.Ready()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var childDone <-chan struct{}
	if child != nil {
		childDone = child.done
	}
	select {
	case <-exitCh:
	case sig := <-sigs:
		log.Info(fmt.Sprintf("%s: received %v, exiting", program, sig), "module", "fatal_signal")
	case <-childDone:
	}
	_ = ctl.Close()
	if child != nil {
		if msg := child.failure(); msg != "" {
			// As C: the databases are closed first, then the status
			// is reported as a fatal error (stderr only, exit 1).
			_ = srv.Close()
			fmt.Fprintf(stderr, "%s: %s\n", program, msg)
			return 1
		}
	}
	return 0
}

// passiveRemote reports whether r is a listener this binary opens itself
// (punix:, ptcp: or pssl:), for the pstream_open coverage counter.
func passiveRemote(r string) bool {
	return strings.HasPrefix(r, "punix:") || strings.HasPrefix(r, "ptcp:") || strings.HasPrefix(r, "pssl:")
}

func absUnder(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// liveRunConfig keeps the run-time configuration file open for the life
// of the process (a monitor passes it to each daemon it restarts).
var liveRunConfig *runConfig

// addRemote adds r, logging the problems C reports in its log; it
// returns only C's refusal of a "db:" remote (*server.InvalidRemoteError).
func addRemote(srv *server.Server, log *slog.Logger, r string) error {
	err := srv.AddRemote(r)
	var inv *server.InvalidRemoteError
	switch {
	case err == nil:
	case errors.As(err, &inv):
		return err
	default:
		// The server has logged it in C's form (listen failed...).
	}
	return nil
}

// registerCommands registers the ovs-appctl commands of C's
// ovsdb-server (those of the vlog module apart: vlog.Logger's); the
// cluster/* ones once a clustered database is served (cluster.go).
func registerCommands(env *controlEnv) {
	ctl, srv, log := env.ctl, env.srv, env.log
	ctl.Register("exit", "", 0, 0, func([]string) (string, error) {
		select {
		case env.exitCh <- struct{}{}:
		default:
		}
		return "", nil
	})
	ctl.Register("memory/show", "", 0, 0, func([]string) (string, error) {
		return memoryShow(srv), nil
	})
	ensureClusterCommands(ctl, srv)
	ctl.Register("ovsdb-server/list-dbs", "", 0, 0, func([]string) (string, error) {
		var b strings.Builder
		for _, n := range srv.ListDatabases() {
			b.WriteString(n + "\n")
		}
		return b.String(), nil
	})
	ctl.Register("ovsdb-server/add-db", "DB", 1, 1, func(a []string) (string, error) {
		err := srv.AddDatabase(a[0])
		ensureClusterCommands(ctl, srv)
		if err == nil {
			env.covs.add("lockfile_lock", 1)
			env.saveConfig()
			// As C: a backup starts replicating over, the new
			// database included.
			env.repl.Restart()
		}
		return "", err
	})
	ctl.Register("ovsdb-server/remove-db", "DB", 1, 1, func(a []string) (string, error) {
		err := srv.RemoveDatabase(a[0])
		if err == nil {
			env.saveConfig()
			env.repl.Restart()
		}
		return "", err
	})
	ctl.Register("ovsdb-server/list-remotes", "", 0, 0, func([]string) (string, error) {
		var b strings.Builder
		for _, r := range srv.ListRemotes() {
			b.WriteString(r + "\n")
		}
		return b.String(), nil
	})
	ctl.Register("ovsdb-server/add-remote", "REMOTE", 1, 1, func(a []string) (string, error) {
		// C refuses a "db:" remote naming a missing database, table or
		// column; it accepts any other remote and reports its problems
		// in the log.
		if err := addRemote(srv, log, a[0]); err != nil {
			return "", err
		}
		if passiveRemote(a[0]) && srv.RemoteAddr(a[0]) != nil {
			env.covs.add("pstream_open", 1)
		}
		env.saveConfig()
		return "", nil
	})
	ctl.Register("ovsdb-server/remove-remote", "REMOTE", 1, 1, func(a []string) (string, error) {
		err := srv.RemoveRemote(a[0])
		if err == nil {
			env.saveConfig()
		}
		return "", err
	})
	ctl.Register("ovsdb-server/compact", "", 0, 1, func(a []string) (string, error) {
		err := srv.Compact(a...)
		if err == nil && srv.TrimMemoryOnCompaction() {
			// C's malloc_trim after a snapshot: give the memory the
			// compaction freed back to the system.
			debug.FreeOSMemory()
		}
		return "", err
	})
	ctl.Register("ovsdb-server/reconnect", "", 0, 0, func([]string) (string, error) {
		srv.Reconnect()
		return "", nil
	})
	registerMoreCommands(env)
	registerSyncCommands(env)
}

// memoryShow renders C's memory/show line: "KEY:VALUE" pairs sorted by
// key, those C reports that apply here: atoms and cells of every
// database (_Server included), monitors and n-weak-refs (always shown,
// as C), sessions, and the modes' figures (Server.ModeMemory: a Raft
// member's raft-log, raft-connections, raft-backlog-kB). As C (its
// simap_increase), a figure other than monitors and n-weak-refs is shown
// only when it is not zero. C's triggers, backlog, json-caches,
// txn-history and txn-history-atoms are not measured here (see
// doc.go).
func memoryShow(srv *server.Server) string {
	atoms, cells := 0, 0
	for _, name := range srv.ListDatabases() {
		db := srv.Engine(name)
		if db == nil {
			continue
		}
		a, c := dbUsage(db)
		atoms += a
		cells += c
	}
	usage := map[string]int{"monitors": srv.MonitorCount(), "n-weak-refs": 0}
	increase := func(k string, v int) {
		if v != 0 {
			usage[k] += v
		}
	}
	increase("atoms", atoms)
	increase("cells", cells)
	increase("sessions", len(srv.JSONRPC().Sessions()))
	for k, v := range srv.ModeMemory() {
		increase(k, v)
	}
	keys := make([]string, 0, len(usage))
	for k := range usage {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s:%d ", k, usage[k])
	}
	return strings.TrimSuffix(b.String(), " ")
}

func dbUsage(db *ovsdb.Database) (atoms, cells int) {
	sch := db.Schema()
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		for name, rows := range tables {
			t := sch.Tables[name]
			if t == nil {
				continue
			}
			cells += len(rows) * len(t.Columns)
			for _, r := range rows {
				for i, n := 0, r.NumFields(); i < n; i++ {
					atoms += r.Field(i).Len()
				}
			}
		}
	})
	return atoms, cells
}
