package event

import (
	"fmt"
	"strings"
)

// Kind is what a contribution is.
type Kind uint8

// Kinds, in the order of DESIGN.md.
const (
	KindIndicator Kind = iota + 1
	KindSighting
	KindIncident
	KindReport
)

var kindNames = [...]string{"", "indicator", "sighting", "incident", "report"}

// String returns the kind's name as it appears in JSON.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind parses a kind's name, case-insensitively.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames[1:] {
		if strings.EqualFold(s, n) {
			return Kind(i + 1), nil
		}
	}
	return 0, fmt.Errorf("%w %s: want one of indicator, sighting, incident, report", ErrUnknownValue, Quote(s))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) {
	if k == 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("%w: kind %d", ErrUnknownValue, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// Severity is how bad an event is, from info to critical.
type Severity uint8

// Severities, in increasing order.
const (
	SeverityInfo Severity = iota + 1
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"", "info", "low", "medium", "high", "critical"}

// String returns the severity's name as it appears in JSON.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// ParseSeverity parses a severity's name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames[1:] {
		if strings.EqualFold(s, n) {
			return Severity(i + 1), nil
		}
	}
	return 0, fmt.Errorf("%w %s: want one of info, low, medium, high, critical", ErrUnknownValue, Quote(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if s == 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("%w: severity %d", ErrUnknownValue, uint8(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// TLP is the Traffic Light Protocol 2.0 marking. The order of the constants is the order
// of restriction, so a viewer with ceiling c may see an event with marking t iff t <= c
// (RED additionally needs the viewer to be a named recipient).
type TLP uint8

// TLP markings, from least to most restricted.
const (
	TLPClear TLP = iota + 1
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

var tlpNames = [...]string{"", "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}

// String returns the marking as TLP 2.0 writes it.
func (t TLP) String() string {
	if int(t) < len(tlpNames) {
		return tlpNames[t]
	}
	return fmt.Sprintf("tlp(%d)", uint8(t))
}

// ParseTLP parses a TLP 2.0 or 1.0 marking: "TLP:AMBER", "amber", "WHITE" (1.0 for CLEAR).
func ParseTLP(s string) (TLP, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "TLP:")
	u = strings.TrimPrefix(u, "TLP-")
	if u == "WHITE" {
		return TLPClear, nil
	}
	for i, n := range tlpNames[1:] {
		if u == n {
			return TLP(i + 1), nil
		}
	}
	return 0, fmt.Errorf("%w %s: want one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED", ErrUnknownValue, Quote(s))
}

// MarshalText implements encoding.TextMarshaler.
func (t TLP) MarshalText() ([]byte, error) {
	if t == 0 || int(t) >= len(tlpNames) {
		return nil, fmt.Errorf("%w: tlp %d", ErrUnknownValue, uint8(t))
	}
	return []byte(tlpNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *TLP) UnmarshalText(b []byte) error {
	v, err := ParseTLP(string(b))
	*t = v
	return err
}

// exact returns the index of b among names[1:] (the canonical spellings), 0 when it is
// none of them. It does not allocate: decoders look a value up before parsing it.
func exact(names []string, b []byte) int {
	for i, n := range names[1:] {
		if string(b) == n {
			return i + 1
		}
	}
	return 0
}

// KindOf returns the kind b spells exactly as COP writes it; ParseKind takes the rest.
func KindOf(b []byte) (Kind, bool) { i := exact(kindNames[:], b); return Kind(i), i != 0 }

// SeverityOf returns the severity b spells exactly as COP writes it; ParseSeverity takes the rest.
func SeverityOf(b []byte) (Severity, bool) {
	i := exact(severityNames[:], b)
	return Severity(i), i != 0
}

// TLPOf returns the TLP b spells exactly as COP writes it; ParseTLP takes the rest.
func TLPOf(b []byte) (TLP, bool) { i := exact(tlpNames[:], b); return TLP(i), i != 0 }

// ObservableTypeOf returns the observable type b spells exactly as COP writes it;
// ParseObservableType takes the rest.
func ObservableTypeOf(b []byte) (ObservableType, bool) {
	i := exact(observableTypeNames[:], b)
	return ObservableType(i), i != 0
}
