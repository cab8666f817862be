package vlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
)

// Level is a C vlog level.
type Level int

// C's levels, from least to most verbose.
const (
	OFF Level = iota
	EMER
	ERR
	WARN
	INFO
	DBG
)

var levelNames = [...]string{"OFF", "EMER", "ERR", "WARN", "INFO", "DBG"}

// String returns C's name of the level.
func (l Level) String() string {
	if l < OFF || l > DBG {
		return "?"
	}
	return levelNames[l]
}

// LevelEmer is the slog level that maps to EMER.
const LevelEmer = slog.Level(12)

// FromSlog maps a slog level to a vlog level.
func FromSlog(l slog.Level) Level {
	switch {
	case l >= LevelEmer:
		return EMER
	case l >= slog.LevelError:
		return ERR
	case l >= slog.LevelWarn:
		return WARN
	case l >= slog.LevelInfo:
		return INFO
	default:
		return DBG
	}
}

// Destination is a log destination.
type Destination int

// The destinations, in C's order. AnyDestination applies to all.
const (
	Console Destination = iota
	Syslog
	File
	numDest
	AnyDestination Destination = -1
)

var destNames = [...]string{"console", "syslog", "file"}

// DefaultModules are the C ovsdb-server 3.1 module names, so that scripts
// that set levels on C modules keep working.
var DefaultModules = []string{
	"backtrace", "bundle", "command_line", "conntrack", "conntrack_tp", "coverage",
	"ct_dpif", "daemon", "daemon_unix", "dns_resolve", "dpdk", "dpif",
	"dpif_lookup_autovalidator", "dpif_lookup_generic", "dpif_mfex_extract_study",
	"dpif_netdev", "dpif_netdev_extract", "dpif_netdev_impl", "dpif_netdev_lookup",
	"dpif_netlink", "dpif_netlink_rtnl", "entropy", "fatal_signal", "flow", "hmap",
	"ipf", "jsonrpc", "lockfile", "memory", "meta_flow", "native_tnl", "netdev",
	"netdev_afxdp", "netdev_linux", "netdev_offload", "netdev_offload_tc",
	"netdev_vport", "netlink", "netlink_conntrack", "netlink_notifier",
	"netlink_socket", "nx_match", "odp_execute", "odp_execute_impl", "odp_util",
	"ofp_actions", "ofp_bundle", "ofp_connection", "ofp_errors", "ofp_flow",
	"ofp_group", "ofp_match", "ofp_meter", "ofp_monitor", "ofp_msgs", "ofp_packet",
	"ofp_port", "ofp_protocol", "ofp_queue", "ofp_table", "ofp_util", "ovs_numa",
	"ovs_rcu", "ovs_replay", "ovs_router", "ovs_thread", "ovsdb", "ovsdb_cs",
	"ovsdb_error", "ovsdb_file", "ovsdb_idl", "ovsdb_jsonrpc_server", "ovsdb_log",
	"ovsdb_monitor", "ovsdb_rbac", "ovsdb_server", "ovsdb_util", "ox_stat",
	"pmd_perf", "poll_loop", "process", "raft", "raft_rpc", "reconnect", "relay",
	"replication", "route_table", "sha1", "signals", "socket_util",
	"socket_util_unix", "storage", "stream", "stream_fd", "stream_replay",
	"stream_ssl", "stream_tcp", "stream_unix", "svec", "tc", "timeval",
	"transaction", "transaction_forward", "trigger", "unixctl", "userspace_tso",
	"util", "uuid", "vlog",
}

const (
	defaultConsolePattern = "%D{%Y-%m-%dT%H:%M:%SZ}|%05N|%c%T|%p|%m"
	defaultFilePattern    = "%D{%Y-%m-%dT%H:%M:%S.###Z}|%05N|%c%T|%p|%m"
	defaultSyslogPattern  = "ovs|%05N|%c%T|%p|%m"
)

// Logger is the process-wide logging state.
type Logger struct {
	mu            sync.Mutex
	modules       map[string]*[numDest]Level
	defaultModule string
	seq           uint32
	console       io.Writer
	filePath      string
	file          *os.File
	patterns      [numDest]string
	now           func() time.Time
}

// New returns a Logger with the C modules at INFO everywhere, console
// output to os.Stderr, no log file. Records without a "module" attribute
// are attributed to defaultModule.
func New(defaultModule string) *Logger {
	l := &Logger{
		modules:       make(map[string]*[numDest]Level),
		defaultModule: defaultModule,
		console:       os.Stderr,
		now:           time.Now,
	}
	l.patterns = [numDest]string{defaultConsolePattern, defaultSyslogPattern, defaultFilePattern}
	for _, m := range DefaultModules {
		l.module(m)
	}
	l.module(defaultModule)
	return l
}

// module returns the levels of the module, creating it at INFO. l.mu held.
func (l *Logger) module(name string) *[numDest]Level {
	m := l.modules[name]
	if m == nil {
		m = &[numDest]Level{INFO, INFO, INFO}
		l.modules[name] = m
	}
	return m
}

// AddModule registers a module (at INFO) so that it can be configured
// before it logs anything.
func (l *Logger) AddModule(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.module(name)
}

// SetConsole redirects console output (nil disables it).
func (l *Logger) SetConsole(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.console = w
}

// SetLevel sets module's level on dest. An empty module means all modules;
// AnyDestination means all destinations.
func (l *Logger) SetLevel(module string, dest Destination, level Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLevel(module, dest, level)
}

func (l *Logger) setLevel(module string, dest Destination, level Level) {
	apply := func(m *[numDest]Level) {
		for d := Destination(0); d < numDest; d++ {
			if dest == AnyDestination || dest == d {
				m[d] = level
			}
		}
	}
	if module == "" {
		for _, m := range l.modules {
			apply(m)
		}
		return
	}
	apply(l.module(module))
}

// GetLevel returns module's level on dest.
func (l *Logger) GetLevel(module string, dest Destination) Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.modules[module]; m != nil {
		return m[dest]
	}
	return INFO
}

func parseDest(w string) (Destination, bool) {
	for i, n := range destNames {
		if strings.EqualFold(w, n) {
			return Destination(i), true
		}
	}
	return 0, false
}

func parseLevel(w string) (Level, bool) {
	for i, n := range levelNames {
		if strings.EqualFold(w, n) {
			return Level(i), true
		}
	}
	return 0, false
}

func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" ,:\t", r) })
}

// SetLevelsFromString applies one C vlog spec, e.g. "jsonrpc:file:dbg",
// "console:off", "ANY:dbg" or "" (everything to DBG). Errors are C's texts.
func (l *Logger) SetLevelsFromString(s string) error {
	words := splitWords(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(words) > 0 && strings.EqualFold(words[0], "PATTERN") {
		if len(words) < 2 {
			return errors.New("missing destination")
		}
		dest := AnyDestination
		if !strings.EqualFold(words[1], "ANY") {
			d, ok := parseDest(words[1])
			if !ok {
				return fmt.Errorf("unknown destination \"%s\"", words[1])
			}
			dest = d
		}
		// The rest of the string after "PATTERN<sep>DEST<sep>" is the pattern.
		rest := s
		for i := 0; i < 2; i++ {
			rest = strings.TrimLeft(rest, " ,:\t")
			if j := strings.IndexAny(rest, " ,:\t"); j >= 0 {
				rest = rest[j+1:]
			} else {
				rest = ""
			}
		}
		for d := Destination(0); d < numDest; d++ {
			if dest == AnyDestination || dest == d {
				l.patterns[d] = rest
			}
		}
		return nil
	}
	if len(words) > 0 && strings.EqualFold(words[0], "FACILITY") {
		return nil
	}
	module := ""
	dest, haveDest := AnyDestination, false
	level, haveLevel := DBG, false
	for _, w := range words {
		if strings.EqualFold(w, "ANY") {
			continue
		}
		if d, ok := parseDest(w); ok {
			if haveDest {
				return errors.New("cannot specify multiple destinations")
			}
			dest, haveDest = d, true
		} else if lv, ok := parseLevel(w); ok {
			if haveLevel {
				return errors.New("cannot specify multiple levels")
			}
			level, haveLevel = lv, true
		} else if _, ok := l.modules[w]; ok {
			if module != "" {
				return errors.New("cannot specify multiple modules")
			}
			module = w
		} else {
			return fmt.Errorf("no destination, level, or module \"%s\"", w)
		}
	}
	l.setLevel(module, dest, level)
	return nil
}

// SetLogFile opens (appending, creating) the log file and logs
// "opened log file PATH" as C does. An empty path closes the log file.
func (l *Logger) SetLogFile(path string) error {
	l.mu.Lock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
	l.filePath = path
	l.mu.Unlock()
	if path == "" {
		return nil
	}
	return l.Reopen()
}

// LogFile returns the configured log file name ("" if none).
func (l *Logger) LogFile() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.filePath
}

// Reopen closes and reopens the log file (for log rotation).
func (l *Logger) Reopen() error {
	l.mu.Lock()
	path := l.filePath
	if path == "" {
		l.mu.Unlock()
		return errors.New("Logging to file not configured")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fsmode.Log)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	if l.file != nil {
		_ = l.file.Close()
	}
	l.file = f
	l.mu.Unlock()
	l.Log("vlog", INFO, "opened log file "+path)
	return nil
}

// Close closes the log file; later file output is dropped until Reopen.
func (l *Logger) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
}

// Enabled reports whether module logs at level on some destination.
func (l *Logger) Enabled(module string, level Level) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enabled(module, level)
}

func (l *Logger) enabled(module string, level Level) bool {
	m := l.modules[module]
	if m == nil {
		return level <= INFO
	}
	return (level <= m[Console] && l.console != nil) || (level <= m[File] && l.file != nil)
}

// Log writes one message for module at level to the enabled destinations.
func (l *Logger) Log(module string, level Level, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.module(module)
	toConsole := l.console != nil && level <= m[Console]
	toFile := l.file != nil && level <= m[File]
	if !toConsole && !toFile && level > m[Syslog] {
		return
	}
	l.seq++
	now := l.now().UTC()
	if toConsole {
		line := fmt.Sprintf("%s|%05d|%s|%s|%s\n", now.Format("2006-01-02T15:04:05Z"), l.seq, module, level, text)
		_, _ = io.WriteString(l.console, line)
	}
	if toFile {
		line := fmt.Sprintf("%s|%05d|%s|%s|%s\n", now.Format("2006-01-02T15:04:05.000Z"), l.seq, module, level, text)
		_, _ = l.file.WriteString(line)
	}
}

// List returns C's vlog/list table.
func (l *Logger) List() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	b.WriteString("                 console    syslog    file\n")
	b.WriteString("                 -------    ------    ------\n")
	lines := make([]string, 0, len(l.modules))
	for name, m := range l.modules {
		lines = append(lines, fmt.Sprintf("%-16s  %4s       %4s       %4s\n", name, m[Console], m[Syslog], m[File]))
	}
	sort.Strings(lines)
	for _, s := range lines {
		b.WriteString(s)
	}
	return b.String()
}

// ListPattern returns C's vlog/list-pattern table.
func (l *Logger) ListPattern() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "         prefix                            format\n")
	fmt.Fprintf(&b, "         ------                            ------\n")
	fmt.Fprintf(&b, "%-7s  %-32s  %s\n", "SYSLOG", "<%B> %D{%h %e %T} %E %A:", l.patterns[Syslog])
	fmt.Fprintf(&b, "%-7s  %-32s  %s\n", "CONSOLE", "none", l.patterns[Console])
	fmt.Fprintf(&b, "%-7s  %-32s  %s\n", "FILE", "none", l.patterns[File])
	return b.String()
}

// Handler returns a slog.Handler writing through l.
func (l *Logger) Handler() slog.Handler { return &handler{l: l} }

type handler struct {
	l      *Logger
	module string
	prefix string // rendered attributes from WithAttrs
	group  string
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	if h.module == "" {
		// The record may name its module itself: decide in Handle.
		return true
	}
	return h.l.Enabled(h.module, FromSlog(level))
}

func appendAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			appendAttr(b, key, ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(key)
	b.WriteByte('=')
	b.WriteString(a.Value.String())
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	module := h.module
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "module" && h.group == "" {
			module = a.Value.String()
			return true
		}
		appendAttr(&b, h.group, a)
		return true
	})
	if module == "" {
		module = h.l.defaultModule
	}
	h.l.Log(module, FromSlog(r.Level), b.String())
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		if a.Key == "module" && h.group == "" {
			n.module = a.Value.String()
			continue
		}
		appendAttr(&b, h.group, a)
	}
	n.prefix = b.String()
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	if n.group != "" {
		n.group += "." + name
	} else {
		n.group = name
	}
	return &n
}

// Registrar is the part of a unixctl server that RegisterCommands needs.
type Registrar interface {
	Register(name, usage string, minArgs, maxArgs int, fn func(args []string) (string, error))
}

// RegisterCommands adds C's vlog/* control commands.
func (l *Logger) RegisterCommands(r Registrar) {
	const maxInt = int(^uint(0) >> 1)
	r.Register("vlog/set", "{spec | PATTERN:destination:pattern}", 0, maxInt, func(args []string) (string, error) {
		for _, a := range args {
			if err := l.SetLevelsFromString(a); err != nil {
				return "", err
			}
		}
		return "", nil
	})
	r.Register("vlog/list", "", 0, 0, func([]string) (string, error) { return l.List(), nil })
	r.Register("vlog/list-pattern", "", 0, 0, func([]string) (string, error) { return l.ListPattern(), nil })
	r.Register("vlog/reopen", "", 0, 0, func([]string) (string, error) {
		if l.LogFile() == "" {
			return "", errors.New("Logging to file not configured")
		}
		if err := l.Reopen(); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return "", pe.Err
			}
			return "", err
		}
		return "", nil
	})
	r.Register("vlog/close", "", 0, 0, func([]string) (string, error) {
		l.Close()
		return "", nil
	})
	setRateLimits := func(enable bool) func([]string) (string, error) {
		return func(args []string) (string, error) {
			// As C: the modules are set in order until an unknown one,
			// which stops there with an error.
			for _, a := range args {
				name := a
				if !strings.EqualFold(a, "ANY") {
					// Module names match in any case, as in C.
					name = ""
					l.mu.Lock()
					for m := range l.modules {
						if strings.EqualFold(m, a) {
							name = m
							break
						}
					}
					l.mu.Unlock()
					if name == "" {
						return "", errors.New("unknown module")
					}
				}
				SetRateLimits(enable, name)
			}
			if len(args) == 0 {
				SetRateLimits(enable)
			}
			return "", nil
		}
	}
	r.Register("vlog/enable-rate-limit", "[module]...", 0, maxInt, setRateLimits(true))
	r.Register("vlog/disable-rate-limit", "[module]...", 0, maxInt, setRateLimits(false))
}
