package event

// DecodedInOnePass reports whether UnmarshalJSON reads doc itself rather than handing it
// to encoding/json.
func DecodedInOnePass(doc []byte) bool {
	d := eventDecoder{doc: doc}
	return d.event()
}
