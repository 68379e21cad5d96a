package picture

import "encoding/json"

// EncodeDelta returns d as JSON, the bytes json.Marshal(d) gives, and its situation's JSON
// (the bytes json.Marshal(&d.Situation) gives) inside it: the situation is encoded once for
// the store's payload and the picture topic's message (the correlator used to encode it
// twice). BenchmarkEncodeDelta measures it against the two encodings.
func EncodeDelta(d *Delta) (delta, situation []byte, err error) {
	situation, err = json.Marshal(&d.Situation)
	if err != nil {
		return nil, nil, err
	}
	delta = make([]byte, 0, len(situation)+64)
	delta = append(delta, `{"situation":`...)
	delta = append(delta, situation...)
	if len(d.MergedFrom) > 0 {
		b, err := json.Marshal(d.MergedFrom)
		if err != nil {
			return nil, nil, err
		}
		delta = append(append(delta, `,"merged_from":`...), b...)
	}
	if d.Removed {
		delta = append(delta, `,"removed":true`...)
	}
	if d.MergedInto != "" {
		b, err := json.Marshal(d.MergedInto)
		if err != nil {
			return nil, nil, err
		}
		delta = append(append(delta, `,"merged_into":`...), b...)
	}
	// The situation's bytes are the delta's own: a caller keeping one of them does not
	// keep the other alive past need, and neither aliases the other.
	return append(delta, '}'), situation, nil
}
