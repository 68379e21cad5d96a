package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cidcc/cop/correlate"
)

// A state file is the engine snapshot of one correlator together with the cop.events
// offsets it corresponds to:
//
//	COPSTATE1\n
//	{"topic":"cop.events","offsets":{"0":1234,...},"written_at":"..."}\n
//	<correlate.Engine.Snapshot bytes>
//
// The offsets are the next offset to read per partition, i.e. the consumer group's
// committed offsets at the moment of the snapshot: every event before them is in the
// engine state, none after.
const stateMagic = "COPSTATE1\n"

// stateHeader is the JSON line after the magic.
type stateHeader struct {
	Topic   string        `json:"topic"`
	Offsets map[int]int64 `json:"offsets"`
	// Instance is the engine's correlate.Config.Instance, which situation ids are minted
	// from: a restored engine must keep it, a fresh one must not reuse it.
	Instance  string    `json:"instance"`
	WrittenAt time.Time `json:"written_at"`
}

// writeState writes the engine state and offsets to path atomically: a temporary file
// in the same directory, fsync, rename, fsync of the directory. A crash at any point
// leaves either the old state file or the new one, never a torn one.
func writeState(path string, e *correlate.Engine, topic string, offsets map[int]int64) (int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("cannot create state directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("cannot create state file in %s: %w", dir, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	hdr, err := json.Marshal(stateHeader{Topic: topic, Offsets: offsets, Instance: e.Instance(), WrittenAt: time.Now().UTC()})
	if err != nil {
		return 0, fmt.Errorf("BUG: cannot encode state header: %w", err)
	}
	w.WriteString(stateMagic)
	w.Write(hdr)
	w.WriteByte('\n')
	if err := e.Snapshot(w); err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("cannot write state file %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("cannot sync state file %s: %w", tmp, err)
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("cannot close state file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("cannot rename state file to %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return size, nil
}

// readState restores the engine and offsets from path. A missing file returns
// os.ErrNotExist (wrapped); the caller then rebuilds the engine from the topic.
func readState(path string, cfg correlate.Config) (*correlate.Engine, stateHeader, error) {
	var hdr stateHeader
	f, err := os.Open(path)
	if err != nil {
		return nil, hdr, fmt.Errorf("cannot open state file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != stateMagic {
		return nil, hdr, fmt.Errorf("%s is not a COP state file (bad magic)", path)
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, hdr, fmt.Errorf("cannot read state header of %s: %w", path, err)
	}
	if err := json.Unmarshal(line, &hdr); err != nil {
		return nil, hdr, fmt.Errorf("cannot decode state header of %s: %w", path, err)
	}
	cfg.Instance = hdr.Instance
	e, err := correlate.Restore(r, cfg)
	if err != nil {
		return nil, hdr, fmt.Errorf("cannot restore engine from %s: %w", path, err)
	}
	return e, hdr, nil
}

// isNotExist reports whether err says the state file does not exist.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
