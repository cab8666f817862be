package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/ovsdb-go/ovsdb-server/internal/daemon"
)

// runConfigEnv names the descriptor of the run-time configuration file
// inherited by the processes that --detach and --monitor start.
const runConfigEnv = "OVSDB_GO_RUN_CONFIG_FD"

// savedConfig is what survives a --monitor restart: the remotes and the
// database files, as changed at run time by ovsdb-server/add-remote,
// remove-remote, add-db and remove-db, and the active-backup settings
// (set-active-ovsdb-server, set-sync-exclude-tables, connect- and
// disconnect-active-ovsdb-server). It has the shape of C's
// config_tmpfile ({"remotes":[...],"db_filenames":[...],"sync_from":...,
// "sync_exclude":...,"is_backup":...}).
type savedConfig struct {
	Remotes     []string `json:"remotes"`
	DBFilenames []string `json:"db_filenames"`
	syncConfig
}

// syncConfig is the active-backup part of savedConfig.
type syncConfig struct {
	SyncFrom    *string `json:"sync_from,omitempty"`
	SyncExclude *string `json:"sync_exclude,omitempty"`
	IsBackup    bool    `json:"is_backup"`
}

// syncOf returns cfg's active-backup settings as C saves them at start.
func syncOf(cfg *config) syncConfig {
	return syncConfig{SyncFrom: cfg.syncFrom, SyncExclude: cfg.syncExclude,
		IsBackup: cfg.syncFrom != nil && !cfg.active}
}

// runConfig is the configuration file, as C's config_tmpfile: an
// unlinked temporary file created by the first process, before it
// detaches or starts monitoring, and inherited by every process started
// after it (the detached child, the monitor, each restarted daemon).
// The daemon rewrites it whenever its remotes or databases change; a
// daemon restarted after a crash reads it instead of the command line.
type runConfig struct {
	mu sync.Mutex
	f  *os.File
}

// openRunConfig returns the configuration to run with. The first process
// creates the file and saves cfg's remotes and databases in it; a process
// started by --detach or --monitor loads them from the inherited file
// into cfg.
func openRunConfig(cfg *config) (*runConfig, error) {
	if daemon.IsDetachedChild() || daemon.IsMonitoredChild() {
		if fd, err := strconv.Atoi(os.Getenv(runConfigEnv)); err == nil {
			rc := &runConfig{f: os.NewFile(uintptr(fd), "run-config")}
			sc, err := rc.load()
			if err != nil {
				return nil, err
			}
			cfg.remotes, cfg.dbs = sc.Remotes, sc.DBFilenames
			cfg.syncFrom, cfg.syncExclude = sc.SyncFrom, sc.SyncExclude
			cfg.active = !sc.IsBackup
			return rc, nil
		}
	}
	f, err := os.CreateTemp("", "ovsdb-server-config-")
	if err != nil {
		return nil, fmt.Errorf("failed to create temporary file (%v)", err)
	}
	_ = os.Remove(f.Name())
	// An inheritable descriptor out of the way of the ones --detach and
	// --monitor pass to their child (3).
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_DUPFD, 10)
	_ = f.Close()
	if errno != 0 {
		return nil, fmt.Errorf("failed to create temporary file (%v)", errno)
	}
	fd := int(r)
	if err := os.Setenv(runConfigEnv, strconv.Itoa(fd)); err != nil {
		return nil, err
	}
	rc := &runConfig{f: os.NewFile(uintptr(fd), "run-config")}
	if err := rc.save(cfg.remotes, cfg.dbs, syncOf(cfg)); err != nil {
		return nil, err
	}
	return rc, nil
}

func (rc *runConfig) load() (*savedConfig, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	st, err := rc.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading json failed (%v)", err)
	}
	data := make([]byte, st.Size())
	if _, err := rc.f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("reading json failed (%v)", err)
	}
	var sc savedConfig
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("reading json failed (%v)", err)
	}
	return &sc, nil
}

// save replaces the file's contents.
func (rc *runConfig) save(remotes, dbs []string, sync syncConfig) error {
	if remotes == nil {
		remotes = []string{}
	}
	if dbs == nil {
		dbs = []string{}
	}
	data, err := json.Marshal(savedConfig{Remotes: remotes, DBFilenames: dbs, syncConfig: sync})
	if err != nil {
		return err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.f.Truncate(0); err != nil {
		return fmt.Errorf("failed to truncate temporary file (%v)", err)
	}
	if _, err := rc.f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("failed to write temporary file (%v)", err)
	}
	return nil
}
