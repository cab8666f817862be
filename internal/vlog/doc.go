// Package vlog reproduces Open vSwitch's logging facility ("vlog") on top of
// log/slog.
//
// A Logger holds, for every module, one level per destination (console,
// syslog, file), a shared message sequence number and the log file. Its
// Handler is a slog.Handler: the module of a record is taken from its
// "module" attribute, and lines are written in C's formats:
//
//	console: 2026-01-02T03:04:05Z|00001|module|INFO|text
//	file:    2026-01-02T03:04:05.678Z|00001|module|INFO|text
//
// Levels are C's: OFF EMER ERR WARN INFO DBG; slog levels map as
// Debug->DBG, Info->INFO, Warn->WARN, Error->ERR and LevelEmer->EMER.
// As in C, every module starts at INFO for every destination; a detached
// daemon turns the console off. Syslog levels are kept and listed but no
// syslog output is produced.
//
// SetLevelsFromString parses C's -v/--verbose/vlog/set specs
// ("module:destination:level" in any order, words separated by ':' ',' ' ',
// "ANY" wildcards, "PATTERN:dest:fmt" accepted). RegisterCommands adds the
// vlog/set, vlog/list, vlog/list-pattern, vlog/reopen, vlog/close,
// vlog/enable-rate-limit and vlog/disable-rate-limit commands to a unixctl
// server.
//
// RateLimit is C's vlog_rate_limit: a token bucket (messages per minute,
// burst) whose Allow also returns C's "Dropped N log messages in last S
// seconds (most recently, S seconds ago) due to excessive rate" note. As in
// C, vlog/disable-rate-limit [MODULE...] lifts the limits of the named
// modules (all without arguments or with "ANY"; an unknown module is
// "unknown module") and vlog/enable-rate-limit restores them; the state is
// process-wide (HonorsRateLimits, SetRateLimits).
package vlog
