package store

import (
	"encoding/json"
)

// StoredEvent embeds event.Event, whose JSON codec methods would be promoted to it and
// drop situation_id and duplicate; these write and read them as encoding/json did with the
// embedded fields flattened: the event's keys, then situation_id and duplicate.

// MarshalJSON implements json.Marshaler.
func (e StoredEvent) MarshalJSON() ([]byte, error) {
	b, err := e.Event.AppendJSON(make([]byte, 0, 1024))
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1] // the event's closing brace
	if e.SituationID != "" {
		id, err := json.Marshal(e.SituationID)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"situation_id":`...)
		b = append(b, id...)
	}
	if e.Duplicate {
		b = append(b, `,"duplicate":true`...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *StoredEvent) UnmarshalJSON(b []byte) error {
	err := e.Event.UnmarshalJSON(b)
	x := struct {
		SituationID string `json:"situation_id,omitempty"`
		Duplicate   bool   `json:"duplicate,omitempty"`
	}{e.SituationID, e.Duplicate}
	if xerr := json.Unmarshal(b, &x); err == nil {
		err = xerr
	}
	e.SituationID, e.Duplicate = x.SituationID, x.Duplicate
	return err
}
