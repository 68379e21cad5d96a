package event

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// ObservableType is the kind of value an observable holds.
type ObservableType uint8

// Observable types of DESIGN.md.
const (
	ObsIPv4 ObservableType = iota + 1
	ObsIPv6
	ObsCIDR
	ObsDomain
	ObsURL
	ObsEmail
	ObsSHA256
	ObsSHA1
	ObsMD5
	ObsCVE
	ObsASN
	numObservableTypes
)

// Identifies reports whether an observable of type t names something of the attacker's
// (an address, a domain, a file, a mailbox), so that two reports sharing one are about
// the same activity. A CVE does not: it names the weakness exploited, which many
// unrelated crews exploit at once (CVE-2023-46805 by state actors against landing
// stations and by miners against city halls the same week). Situations link only on
// observables that identify (correlate); campaigns group on a CVE with the target sector
// (picture.CampaignLink kind "exploit").
func (t ObservableType) Identifies() bool { return t != ObsCVE }

var observableTypeNames = [...]string{"", "ipv4", "ipv6", "cidr", "domain", "url", "email", "sha256", "sha1", "md5", "cve", "asn"}

// String returns the type's name as it appears in JSON.
func (t ObservableType) String() string {
	if int(t) < len(observableTypeNames) {
		return observableTypeNames[t]
	}
	return fmt.Sprintf("observable(%d)", uint8(t))
}

// ParseObservableType parses a type's name, case-insensitively.
func ParseObservableType(s string) (ObservableType, error) {
	for i, n := range observableTypeNames[1:] {
		if strings.EqualFold(s, n) {
			return ObservableType(i + 1), nil
		}
	}
	return 0, fmt.Errorf("%w %s: want one of %s", ErrUnknownValue, Quote(s), strings.Join(observableTypeNames[1:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (t ObservableType) MarshalText() ([]byte, error) {
	if t == 0 || t >= numObservableTypes {
		return nil, fmt.Errorf("%w: observable type %d", ErrUnknownValue, uint8(t))
	}
	return []byte(observableTypeNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *ObservableType) UnmarshalText(b []byte) error {
	v, err := ParseObservableType(string(b))
	*t = v
	return err
}

// Observable is a typed, normalised value: an address, a name, a hash.
type Observable struct {
	Type  ObservableType `json:"type"`
	Value string         `json:"value"`
}

// String returns "type:value", the form used in fingerprints and logs.
func (o Observable) String() string { return o.Type.String() + ":" + o.Value }

// NewObservable normalises value as an observable of type t: defanged notation undone,
// case folded where case carries no meaning, IP addresses and prefixes in canonical form,
// URLs with lower-case scheme and host and no default port. The same indicator written
// two ways by two contributors yields the same Observable.
func NewObservable(t ObservableType, value string) (Observable, error) {
	v, err := normalise(t, Refang(strings.TrimSpace(value)))
	if err != nil {
		return Observable{}, fmt.Errorf("%w %s %s: %v", ErrInvalidObservable, t, Quote(value), err)
	}
	return Observable{Type: t, Value: v}, nil
}

// refanger undoes the common ways analysts defang indicators so they cannot be clicked.
var (
	refangSchemes = strings.NewReplacer(
		"hxxps://", "https://", "hxxp://", "http://", "hXXps://", "https://", "hXXp://", "http://",
		"HXXPS://", "https://", "HXXP://", "http://", "fxp://", "ftp://")
	refangMarks = strings.NewReplacer(
		"[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".", " dot ", ".",
		"[:]", ":", "[://]", "://", "[@]", "@", "[at]", "@", "(at)", "@", " at ", "@",
		"[/]", "/")
)

// Refang undoes defanged notation ("hxxp://evil[.]example", "user[@]example[.]org").
func Refang(s string) string {
	if !strings.ContainsAny(s, "[({ ") && !strings.Contains(s, "xxp") && !strings.Contains(s, "XXP") &&
		!strings.Contains(s, "XXp") && !strings.Contains(s, "fxp") {
		return s
	}
	return refangSchemes.Replace(refangMarks.Replace(s))
}

func normalise(t ObservableType, v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("empty value")
	}
	switch t {
	case ObsIPv4, ObsIPv6:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", fmt.Errorf("not an IP address")
		}
		a = a.Unmap().WithZone("")
		if t == ObsIPv4 && !a.Is4() {
			return "", fmt.Errorf("not an IPv4 address")
		}
		if t == ObsIPv6 && !a.Is6() {
			return "", fmt.Errorf("not an IPv6 address")
		}
		var buf [64]byte
		if string(a.AppendTo(buf[:0])) == v {
			return v, nil // already canonical: no new string
		}
		return a.String(), nil
	case ObsCIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", fmt.Errorf("not a CIDR prefix such as 192.0.2.0/24")
		}
		return p.Masked().String(), nil
	case ObsDomain:
		return normaliseDomain(v)
	case ObsURL:
		return normaliseURL(v)
	case ObsEmail:
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 {
			return "", fmt.Errorf("not an e-mail address")
		}
		d, err := normaliseDomain(v[at+1:])
		if err != nil {
			return "", err
		}
		return strings.ToLower(v[:at]) + "@" + d, nil
	case ObsSHA256:
		return normaliseHex(v, 64)
	case ObsSHA1:
		return normaliseHex(v, 40)
	case ObsMD5:
		return normaliseHex(v, 32)
	case ObsCVE:
		u := strings.ToUpper(v)
		if !isCVE(u) {
			return "", fmt.Errorf("not a CVE id such as CVE-2024-3400")
		}
		return u, nil
	case ObsASN:
		u := strings.TrimPrefix(strings.ToUpper(v), "AS")
		n, err := strconv.ParseUint(u, 10, 32)
		if err != nil {
			return "", fmt.Errorf("not an AS number such as AS64496")
		}
		return "AS" + strconv.FormatUint(n, 10), nil
	}
	return "", fmt.Errorf("%w: observable type %d", ErrUnknownValue, uint8(t))
}

var domainProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

func normaliseDomain(v string) (string, error) {
	v = strings.TrimSuffix(strings.ToLower(v), ".")
	if v == "" || len(v) > 253 {
		return "", fmt.Errorf("not a domain name")
	}
	ascii := v
	if !isPlainHostname(v) {
		// Only names with non-ASCII letters (or odd characters) need the IDNA mapping;
		// checked below either way.
		var err error
		if ascii, err = domainProfile.ToASCII(v); err != nil {
			return "", fmt.Errorf("not a domain name: %s", Clip(err.Error()))
		}
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("not a domain name: empty or over-long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("not a domain name: character %q", c)
			}
		}
	}
	return ascii, nil
}

// isPlainHostname reports whether v is already lower-case ASCII letters, digits, '-', '_'
// and '.', which IDNA maps to itself.
func isPlainHostname(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.Contains(v, "xn--")
}

func normaliseURL(v string) (string, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("not a URL with a host")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
		if a.Is6() && !a.Is4In6() {
			host = "[" + host + "]"
		}
	} else {
		if host, err = normaliseDomain(host); err != nil {
			return "", err
		}
	}
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

func normaliseHex(v string, n int) (string, error) {
	if len(v) != n {
		return "", fmt.Errorf("want %d hex digits, got %d characters", n, len(v))
	}
	if isLowerHex(v) {
		return v, nil
	}
	b := []byte(strings.ToLower(v))
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("not hexadecimal: %q", c)
		}
	}
	return string(b), nil
}

func isLowerHex(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isCVE(s string) bool {
	// CVE-YYYY-NNNN with four or more digits in the sequence number.
	if len(s) < 13 || !strings.HasPrefix(s, "CVE-") || s[8] != '-' {
		return false
	}
	for i := 4; i < len(s); i++ {
		if i == 8 {
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// GuessObservable infers the type of a bare value (an IP, a prefix, a hash, a URL, ...)
// and normalises it. Feeds that give untyped values (MISP "other", free text) use it.
func GuessObservable(value string) (Observable, error) {
	v := Refang(strings.TrimSpace(value))
	var t ObservableType
	switch {
	case strings.Contains(v, "://"):
		t = ObsURL
	case strings.Contains(v, "/"):
		if _, err := netip.ParsePrefix(v); err == nil {
			t = ObsCIDR
		} else {
			t = ObsURL
		}
	case strings.Contains(v, "@"):
		t = ObsEmail
	case strings.HasPrefix(strings.ToUpper(v), "CVE-"):
		t = ObsCVE
	default:
		if a, err := netip.ParseAddr(v); err == nil {
			t = ObsIPv6
			if a.Unmap().Is4() {
				t = ObsIPv4
			}
			break
		}
		if _, err := normaliseHex(v, len(v)); err == nil {
			switch len(v) {
			case 64:
				t = ObsSHA256
			case 40:
				t = ObsSHA1
			case 32:
				t = ObsMD5
			}
		}
		if t == 0 && strings.HasPrefix(strings.ToUpper(v), "AS") {
			if _, err := strconv.ParseUint(v[2:], 10, 32); err == nil {
				t = ObsASN
			}
		}
		if t == 0 {
			t = ObsDomain
		}
	}
	return NewObservable(t, v)
}
