package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/segmentio/kafka-go"
)

// The journal (<state file>.journal) records, before a batch is applied, exactly which
// cop.events messages it holds in which order, the time it was applied at, and whether
// a decay tick followed. Situation ids and versions depend on the order the engine saw
// events in, so a restart must re-apply the batches since the snapshot exactly as they
// were, not re-read the topic in another order: the journal makes the engine after a
// restart identical to the one that crashed. It holds offsets only, never content; it is
// emptied whenever a state file is written.
type journalRecord struct {
	Now  int64    `json:"now"`            // Apply's now, Unix nanoseconds
	Tick int64    `json:"tick,omitempty"` // Tick's now after the Apply, 0 for none
	Runs [][3]int `json:"runs,omitempty"` // [partition, first offset, count] in batch order
}

// runsOf returns msgs as runs of consecutive offsets of one partition.
func runsOf(msgs []kafka.Message) [][3]int {
	var runs [][3]int
	for i := range msgs {
		p, o := msgs[i].Partition, int(msgs[i].Offset)
		if n := len(runs); n > 0 && runs[n-1][0] == p && runs[n-1][1]+runs[n-1][2] == o {
			runs[n-1][2]++
			continue
		}
		runs = append(runs, [3]int{p, o, 1})
	}
	return runs
}

// journal appends records to the journal file, synced before each returns.
type journal struct {
	path string
	f    *os.File
}

func openJournal(path string) (*journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open journal: %w", err)
	}
	return &journal{path: path, f: f}, nil
}

func (j *journal) append(r *journalRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("BUG: cannot encode journal record: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("cannot append to journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("cannot sync journal %s: %w", j.path, err)
	}
	return nil
}

// reset empties the journal: called right after a state file was written.
func (j *journal) reset() error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("cannot truncate journal %s: %w", j.path, err)
	}
	return j.f.Sync()
}

func (j *journal) Close() error { return j.f.Close() }

// readJournal returns the records of the journal at path; a torn last line (a crash
// while appending: that batch was never applied) is dropped.
func readJournal(path string) ([]journalRecord, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open journal: %w", err)
	}
	defer f.Close()
	var out []journalRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r journalRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			break
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
