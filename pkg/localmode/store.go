package localmode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/goldimage/goldimage/pkg/cron"
)

// Store layout: <root>/<namespace>/<dataSource>/{<import>.img, current -> <import>.img, state.json}.
const (
	stateFile   = "state.json"
	currentLink = "current"
	imageSuffix = ".img"
	partSuffix  = ".part"
)

// sourceState is what local mode remembers about one DataSource between runs.
type sourceState struct {
	Cron     string    `json:"cron"`
	LastPoll time.Time `json:"lastPoll,omitzero"`
	Digest   string    `json:"digest,omitempty"` // newest digest, or http version, polled
	// Validator and Checksum belong to an http source's Digest: the ETag/Last-Modified its polls are
	// conditioned on, and the sha256 its checksum-url lists ("" without one).
	Validator cron.Validator `json:"validator,omitzero"`
	Checksum  string         `json:"checksum,omitempty"`
	Imports   []cron.Import  `json:"imports,omitempty"`
}

// sourceDir is the store directory of one DataSource.
type sourceDir string

func (d sourceDir) image(name string) string { return filepath.Join(string(d), name+imageSuffix) }

// load reads the state; a missing file is an empty state.
func (d sourceDir) load() (sourceState, error) {
	var st sourceState
	b, err := os.ReadFile(filepath.Join(string(d), stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read store state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decode store state %s: %w", filepath.Join(string(d), stateFile), err)
	}
	return st, nil
}

// save writes the state atomically.
func (d sourceDir) save(st sourceState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode store state: %w", err)
	}
	return writeAtomic(filepath.Join(string(d), stateFile), func(tmp string) error { return os.WriteFile(tmp, b, 0o644) })
}

// current returns the import the current link points at, "" if none.
func (d sourceDir) current() string {
	target, err := os.Readlink(filepath.Join(string(d), currentLink))
	if err != nil {
		return ""
	}
	base := filepath.Base(target)
	if filepath.Ext(base) != imageSuffix {
		return ""
	}
	return base[:len(base)-len(imageSuffix)]
}

// point moves the current link to an import atomically.
func (d sourceDir) point(name string) error {
	return writeAtomic(filepath.Join(string(d), currentLink), func(tmp string) error { return os.Symlink(name+imageSuffix, tmp) })
}

// remove deletes an import's image and any partial file.
func (d sourceDir) remove(name string) error {
	for _, p := range []string{d.image(name), d.image(name) + partSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete import %s: %w", name, err)
		}
	}
	return nil
}

// writeAtomic creates path through a temporary sibling and a rename.
func writeAtomic(path string, create func(tmp string) error) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := create(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
