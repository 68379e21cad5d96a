package store

import "encoding/json"

// UnmarshalJSON implements json.Unmarshaler. StoredEvent needs its own: the one of the
// embedded event.Event would be promoted and drop situation_id and duplicate. This reads
// them as encoding/json did with the embedded fields flattened.
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
