package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/version"
	"github.com/ovsdb-go/ovsdb-server/internal/vlog"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// cVersion is the C release whose behaviour this tool reproduces.
const cVersion = version.OVS

// logger is looked up at each use so that the vlog handler main installs
// (or a test's) applies. C logs the ephemeral-column warning from its
// "ovsdb" module.
func logger() *slog.Logger { return slog.Default().With("module", "ovsdb") }

// exitError ends the program with a status and, if msg is not empty,
// "PROGRAM: msg" on stderr (C's ovs_fatal).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fatalf(format string, args ...any) error {
	return &exitError{code: 1, msg: fmt.Sprintf(format, args...)}
}

// exitStatus is a silent exit with the given status (2 = "false").
func exitStatus(code int) error { return &exitError{code: code} }

// tool is one invocation: options and output streams.
type tool struct {
	prog      string
	argv0     string // getopt names the program as invoked
	stdout    io.Writer
	stderr    io.Writer
	verbosity int    // -m count
	rbacRole  string // --rbac-role (accepted; the tool runs without RBAC)
	cid       schema.UUID
	hasCID    bool
	electionT uint64
	force     bool         // --force (cluster-recover)
	arbiter   bool         // --arbiter (join-cluster: an arbiter member)
	vlog      *vlog.Logger // nil when run in-process by tests
}

type command struct {
	name    string
	usage   string
	minArgs int
	maxArgs int
	run     func(t *tool, args []string) error
}

func commands() []command {
	return []command{
		{"create", "[db [schema]]", 0, 2, (*tool).create},
		{"create-cluster", "db contents local", 3, 3, (*tool).createCluster},
		{"join-cluster", "db name local remote...", 4, math.MaxInt32, (*tool).joinCluster},
		{"compact", "[db [dst]]", 0, 2, (*tool).compact},
		{"convert", "[db [schema [dst]]]", 0, 3, (*tool).convert},
		{"needs-conversion", "", 0, 2, (*tool).needsConversion},
		{"db-name", "[db]", 0, 1, (*tool).dbName},
		{"db-version", "[db]", 0, 1, (*tool).dbVersion},
		{"db-cksum", "[db]", 0, 1, (*tool).dbCksum},
		{"db-cid", "db", 1, 1, (*tool).dbCID},
		{"db-sid", "db", 1, 1, (*tool).dbSID},
		{"db-local-address", "db", 1, 1, (*tool).dbLocalAddress},
		{"db-is-clustered", "db", 1, 1, func(t *tool, a []string) error { return t.dbIs(a, true) }},
		{"db-is-standalone", "db", 1, 1, func(t *tool, a []string) error { return t.dbIs(a, false) }},
		{"schema-name", "[schema]", 0, 1, (*tool).schemaName},
		{"schema-version", "[schema]", 0, 1, (*tool).schemaVersion},
		{"schema-cksum", "[schema]", 0, 1, (*tool).schemaCksum},
		{"query", "[db] trns", 1, 2, func(t *tool, a []string) error { return t.transact(a, false) }},
		{"transact", "[db] trns", 1, 2, func(t *tool, a []string) error { return t.transact(a, true) }},
		{"show-log", "[db]", 0, 1, (*tool).showLog},
		{"check-cluster", "db...", 1, math.MaxInt32, (*tool).checkCluster},
		{"compare-versions", "a op b", 3, 3, (*tool).compareVersions},
		{"help", "", 0, math.MaxInt32, (*tool).help},
		{"list-commands", "", 0, math.MaxInt32, (*tool).listCommands},
		{"cluster-to-standalone", "db clusterdb", 2, 2, (*tool).clusterToStandalone},
	}
}

// ourCommands are this project's commands that C's tool lacks. They are
// kept out of list-commands, --help and --option, which stay identical to
// C's (TestDifferential), and documented in doc.go.
func ourCommands() []command {
	return []command{
		{"cluster-recover", "db", 1, 1, (*tool).clusterRecover},
	}
}

func main() {
	// C's ovsdb-tool logs through vlog: console (stderr) at INFO for every
	// module, in the "%D{%Y-%m-%dT%H:%M:%SZ}|%05N|%c|%p|%m" format.
	vl := vlog.New("ovsdb_tool")
	vl.SetConsole(os.Stderr)
	for _, m := range []string{"ovsdb", "raft", "raftstore", "storage", "standalone", "socket_util"} {
		vl.AddModule(m)
	}
	// Replaying a member's log (show-log, cluster-to-standalone) runs the
	// raft state machine, whose INFO lines (a conversion applied) a server
	// logs; C's tool prints none. -v shows them.
	vl.SetLevel("raft", vlog.AnyDestination, vlog.WARN)
	slog.SetDefault(slog.New(vl.Handler()))
	os.Exit(runWith(os.Args, os.Stdout, os.Stderr, vl))
}

// run executes the command line args (args[0] is the program) and returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(args, stdout, stderr, nil)
}

// runWith is run with the process's vlog state, which -v/--verbose
// adjusts (nil: the options are accepted and ignored).
func runWith(args []string, stdout, stderr io.Writer, vl *vlog.Logger) int {
	t := &tool{prog: filepath.Base(args[0]), argv0: args[0], stdout: stdout, stderr: stderr, vlog: vl}
	err := t.main(args[1:])
	if err == nil {
		return 0
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{code: 1, msg: errText(err)}
	}
	if ee.msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", t.prog, ee.msg)
	}
	return ee.code
}

func (t *tool) main(args []string) error {
	rest, done, err := t.parseOptions(args)
	if err != nil || done {
		return err
	}
	if len(rest) < 1 {
		return fatalf("missing command name; use --help for help")
	}
	for _, c := range append(commands(), ourCommands()...) {
		if c.name != rest[0] {
			continue
		}
		n := len(rest) - 1
		if n < c.minArgs {
			return fatalf("'%s' command requires at least %d arguments", c.name, c.minArgs)
		}
		if n > c.maxArgs {
			return fatalf("'%s' command takes at most %d arguments", c.name, c.maxArgs)
		}
		return c.run(t, rest)
	}
	return fatalf("unknown command '%s'; use --help for help", rest[0])
}

type optSpec struct {
	name  string
	short byte
	arg   int // 0 none, 1 required, 2 optional
}

var options = []optSpec{
	{"more", 'm', 0}, {"rbac-role", 0, 1}, {"cid", 0, 1}, {"election-timer", 0, 1},
	{"verbose", 'v', 2}, {"help", 'h', 0}, {"option", 'o', 0}, {"version", 'V', 0},
}

// ourOptions are options of ourCommands: parsed like the others, not
// listed by --option (C's list).
var ourOptions = []optSpec{{"force", 0, 0}, {"arbiter", 0, 0}}

// parseOptions works like GNU getopt_long with argument permutation: it
// returns the non-option arguments in order; done means the program must
// exit 0 (--help, --version, --option).
func (t *tool) parseOptions(args []string) (rest []string, done bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i+1:]...), false, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			var match []optSpec
			for _, o := range append(options[:len(options):len(options)], ourOptions...) {
				if o.name == name {
					match = []optSpec{o}
					break
				}
				if strings.HasPrefix(o.name, name) {
					match = append(match, o)
				}
			}
			if len(match) == 0 {
				return nil, false, t.usageError("unrecognized option '%s'", a)
			}
			if len(match) > 1 {
				return nil, false, t.usageError("option '%s' is ambiguous", a)
			}
			o := match[0]
			switch {
			case o.arg == 0 && hasVal:
				return nil, false, t.usageError("option '--%s' doesn't allow an argument", o.name)
			case o.arg == 1 && !hasVal:
				if i+1 >= len(args) {
					return nil, false, t.usageError("option '--%s' requires an argument", o.name)
				}
				i++
				val, hasVal = args[i], true
			}
			if done, err = t.option(o, val, hasVal); done || err != nil {
				return nil, done, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				var o *optSpec
				for k := range options {
					if options[k].short == a[j] {
						o = &options[k]
					}
				}
				if o == nil {
					return nil, false, t.usageError("invalid option -- '%c'", a[j])
				}
				val, hasVal := "", false
				if o.arg != 0 && j+1 < len(a) {
					val, hasVal = a[j+1:], true
					j = len(a)
				}
				if done, err = t.option(*o, val, hasVal); done || err != nil {
					return nil, done, err
				}
			}
		default:
			rest = append(rest, a)
		}
	}
	return rest, false, nil
}

// usageError is getopt's complaint: the message, then exit status 1.
func (t *tool) usageError(format string, args ...any) error {
	fmt.Fprintf(t.stderr, "%s: %s\n", t.argv0, fmt.Sprintf(format, args...))
	return exitStatus(1)
}

func (t *tool) option(o optSpec, val string, hasVal bool) (bool, error) {
	switch o.name {
	case "more":
		t.verbosity++
	case "rbac-role":
		t.rbacRole = val
	case "force":
		t.force = true
	case "arbiter":
		t.arbiter = true
	case "cid":
		u, err := schema.ParseUUID(val)
		if err != nil || u == (schema.UUID{}) {
			return false, fatalf("%s: not a valid UUID", val)
		}
		t.cid, t.hasCID = u, true
	case "election-timer":
		// C: atoll, then raft_validate_election_timer (so 0, a
		// negative number, which wraps around, or no number fails).
		ms := uint64(atoll(val))
		if err := cluster.ValidateElectionTimer(ms); err != nil {
			return false, err
		}
		t.electionT = ms
	case "verbose":
		if t.vlog == nil {
			break
		}
		if !hasVal {
			t.vlog.SetLevel("", vlog.AnyDestination, vlog.DBG)
		} else if err := t.vlog.SetLevelsFromString(val); err != nil {
			return false, fatalf("processing \"%s\": %s", val, err)
		}
	case "help":
		return true, t.help(nil)
	case "option":
		// C's ovs_cmdl_print_options.
		for _, op := range options {
			arg := "[ARG]"
			if op.arg == 1 {
				arg = "ARG"
			}
			if op.arg == 0 {
				arg = ""
				fmt.Fprintf(t.stdout, "--%s\n", op.name)
			} else {
				fmt.Fprintf(t.stdout, "--%s=%s\n", op.name, arg)
			}
			if op.short != 0 {
				fmt.Fprintf(t.stdout, "-%c %s\n", op.short, arg)
			}
		}
		return true, nil
	case "version":
		// C's line (scripts parse it), then the one naming this project.
		fmt.Fprintf(t.stdout, "%s\n%s\n", version.C(t.prog), version.Line())
		return true, nil
	}
	return false, nil
}

func defaultDB() string {
	if d := os.Getenv("OVS_DBDIR"); d != "" {
		return d + "/conf.db"
	}
	if d := os.Getenv("OVS_SYSCONFDIR"); d != "" {
		return d + "/openvswitch/conf.db"
	}
	return "/etc/openvswitch/conf.db"
}

// logDir is C's ovs_logdir(): $OVS_LOGDIR or /var/log/openvswitch.
func logDir() string {
	if d := os.Getenv("OVS_LOGDIR"); d != "" {
		return d
	}
	return "/var/log/openvswitch"
}

func defaultSchema() string {
	if d := os.Getenv("OVS_PKGDATADIR"); d != "" {
		return d + "/vswitch.ovsschema"
	}
	return "/usr/share/openvswitch/vswitch.ovsschema"
}

// atoll is C's atoll: leading white space, an optional sign, then
// decimal digits; 0 if there are none (out of range: saturated, as
// glibc's strtoll).
func atoll(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j {
		return 0
	}
	v, err := strconv.ParseInt(s[i:k], 10, 64)
	if err != nil {
		if s[i] == '-' {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return v
}

// argOr returns args[i] if present, else def.
func argOr(args []string, i int, def string) string {
	if i < len(args) {
		return args[i]
	}
	return def
}

func (t *tool) help([]string) error {
	p := t.prog
	fmt.Fprintf(t.stdout, `%s: Open vSwitch database management utility
usage: %s [OPTIONS] COMMAND [ARG...]
  create [DB [SCHEMA]]    create DB with the given SCHEMA
  [--election-timer=ms] create-cluster DB CONTENTS LOCAL
    create clustered DB with given CONTENTS and LOCAL address
  [--cid=UUID] join-cluster DB NAME LOCAL REMOTE...
    join clustered DB with given NAME and LOCAL and REMOTE addrs
  compact [DB [DST]]      compact DB in-place (or to DST)
  convert [DB [SCHEMA [DST]]]   convert DB to SCHEMA (to DST)
  db-name [DB]            report name of schema used by DB
  db-version [DB]         report version of schema used by DB
  db-cksum [DB]           report checksum of schema used by DB
  db-cid DB               report cluster ID of clustered DB
  db-sid DB               report server ID of clustered DB
  db-local-address DB     report local address of clustered DB
  db-is-clustered DB      test whether DB is clustered
  db-is-standalone DB     test whether DB is standalone
  schema-name [SCHEMA]    report SCHEMA's name
  schema-version [SCHEMA] report SCHEMA's schema version
  schema-cksum [SCHEMA]   report SCHEMA's checksum
  compare-versions A OP B  compare OVSDB schema version numbers
  query [DB] TRNS         execute read-only transaction on DB
  transact [DB] TRNS      execute read/write transaction on DB
  cluster-to-standalone DB DB    Convert clustered DB to
      standalone DB when cluster is down and cannot be
        revived
  [-m]... show-log [DB]   print DB's log entries
The default DB is %s.
The default SCHEMA is %s.

Logging options:
  -vSPEC, --verbose=SPEC   set logging levels
  -v, --verbose            set maximum verbosity level
  --log-file[=FILE]        enable logging to specified FILE
                           (default: %s/%s.log)
  --syslog-method=(libc|unix:file|udp:ip:port)
                           specify how to send messages to syslog daemon
  --syslog-target=HOST:PORT  also send syslog msgs to HOST:PORT via UDP

Other options:
  -m, --more                  increase show-log verbosity
  --rbac-role=ROLE            RBAC role for transact and query commands
  -h, --help                  display this help message
  -V, --version               display version information
`, p, p, defaultDB(), defaultSchema(), logDir(), p)
	return nil
}

func (t *tool) listCommands([]string) error {
	fmt.Fprintln(t.stdout, "The available commands are:")
	for _, c := range commands() {
		// C pads the name also when there is no usage text.
		fmt.Fprintf(t.stdout, "  %-23s %s\n", c.name, c.usage)
	}
	return nil
}

// errText renders an error as C's ovsdb_error_to_string.
func errText(err error) string {
	var ce *storage.ClusteredError
	if errors.As(err, &ce) {
		return ovsdberr.TagOVSDB + ": " + ce.Error()
	}
	var e *ovsdberr.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	var b strings.Builder
	if e.HasSyntax {
		fmt.Fprintf(&b, "syntax \"%s\": ", cjson.String(e.Syntax))
	}
	b.WriteString(e.Tag)
	if e.Details != "" {
		b.WriteString(": ")
		b.WriteString(cErrno(e.Details, e.Cause))
	}
	if e.IOError != "" {
		b.WriteString(" (" + e.IOError + ")")
	}
	return b.String()
}

// cErrno rewrites Go's lower-case errno text in details as C's strerror.
func cErrno(details string, cause error) string {
	var en syscall.Errno
	if cause == nil || !errors.As(cause, &en) {
		return details
	}
	g := en.Error()
	if g == "" {
		return details
	}
	c := strings.ToUpper(g[:1]) + g[1:]
	return strings.Replace(details, "("+g+")", "("+c+")", 1)
}

// strerror is C's strerror text for an errno (Go's is lower-case).
func strerror(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		if g := en.Error(); g != "" {
			return strings.ToUpper(g[:1]) + g[1:]
		}
	}
	return err.Error()
}
