package notify

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/cidcc/cop/internal/alert"
)

// CEF header constants: CEF:0|CIDCC|COP|<version>|<signature id>|<name>|<severity>|.
const (
	cefVendor  = "CIDCC"
	cefProduct = "COP"
	// facility is syslog's local0: a site routes it where it wants.
	facility = 16
	// maxUDP caps a datagram's line (RFC 5426 receivers take at least 2048 octets; most
	// take 8 KB).
	maxUDP = 8 << 10
)

// CEF returns the CEF record of a (no syslog header): signature id "<kind>.<reason>"
// (situation.entered, situation.critical, campaign.entered, crisis.raised…), name the
// subject's title, severity 0–10 from its score (a crisis's level counts twice), and the
// extension fields of docs/alerts.md. Header fields escape '\' and '|', extension values
// '\', '=' and line breaks, as CEF wants.
func CEF(a alert.Alert, version string) string {
	s := &a.Subject
	var b strings.Builder
	b.WriteString("CEF:0|")
	for _, h := range []string{cefVendor, cefProduct, version, signatureID(&a), s.Title} {
		b.WriteString(cefHeader(h))
		b.WriteByte('|')
	}
	b.WriteString(strconv.Itoa(cefSeverity(&a)))
	b.WriteByte('|')
	ext := [][2]string{
		{"rt", strconv.FormatInt(a.At.UnixMilli(), 10)},
		{"externalId", a.ID},
		{"cat", string(a.Kind)},
		{"msg", a.Reason},
		{"cs1Label", "subjectId"}, {"cs1", s.ID},
		{"cs2Label", "tlp"}, {"cs2", s.TLP.String()},
		{"cs3Label", "countries"}, {"cs3", strings.Join(s.Countries, ",")},
		{"cs4Label", "sectors"}, {"cs4", strings.Join(s.Sectors, ",")},
		{"cn1Label", "score"}, {"cn1", strconv.FormatFloat(math.Round(s.Score), 'f', 0, 64)},
	}
	if len(s.ReleasableTo) > 0 {
		ext = append(ext, [2]string{"cs5Label", "releasableTo"}, [2]string{"cs5", strings.Join(s.ReleasableTo, ",")})
	}
	if s.Exercise != "" {
		ext = append(ext, [2]string{"cs6Label", "exercise"}, [2]string{"cs6", s.Exercise})
	}
	if a.Level > 0 {
		ext = append(ext, [2]string{"cn2Label", "level"}, [2]string{"cn2", strconv.Itoa(a.Level)})
	}
	for i, kv := range ext {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(cefValue(kv[1]))
	}
	return b.String()
}

// signatureID is "<kind>.<reason>": the reason is the last ':' part of the alert id when
// it is a word (the hub's "entered" and "critical"), else "raised".
func signatureID(a *alert.Alert) string {
	reason := "raised"
	if i := strings.LastIndexByte(a.ID, ':'); i >= 0 {
		if r := a.ID[i+1:]; r != "" && strings.Trim(r, "abcdefghijklmnopqrstuvwxyz-") == "" {
			reason = r
		}
	}
	return string(a.Kind) + "." + reason
}

func cefSeverity(a *alert.Alert) int {
	sev := int(math.Round(a.Subject.Score / 10))
	sev = max(sev, 2*a.Level)
	return min(max(sev, 0), 10)
}

var (
	headerEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ")
	valueEscaper  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\n", `\n`, "\r", `\r`)
)

func cefHeader(s string) string { return headerEscaper.Replace(s) }
func cefValue(s string) string  { return valueEscaper.Replace(s) }

// syslogLine is the RFC 5424 line carrying a's CEF record: <PRI>1 TIMESTAMP HOSTNAME cop
// PROCID MSGID - CEF:…, MSGID the alert's kind.
func syslogLine(a alert.Alert, version, host string) string {
	sev := cefSeverity(&a)
	var level int // RFC 5424 severity
	switch {
	case sev >= 9:
		level = 2 // critical
	case sev >= 7:
		level = 3 // error
	case sev >= 5:
		level = 4 // warning
	case sev >= 3:
		level = 5 // notice
	default:
		level = 6 // informational
	}
	return fmt.Sprintf("<%d>1 %s %s cop %d %s - %s", facility*8+level, a.At.UTC().Format("2006-01-02T15:04:05.000Z"),
		host, os.Getpid(), a.Kind, CEF(a, version))
}

// hostname is this host's name as an RFC 5424 HOSTNAME: printable ASCII without spaces,
// "-" when unknown.
func hostname() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return -1
		}
		return r
	}, h)
	if h == "" {
		return "-"
	}
	return h
}

// syslogSender writes lines to one receiver: over TCP one connection, kept, each line
// ended by a newline (RFC 6587 non-transparent framing: CEF escapes line breaks, so a
// line is never cut); over UDP one datagram a line.
type syslogSender struct {
	network, address, version, host string
	conn                            net.Conn
}

func newSyslog(s Syslog, o Options) *syslogSender {
	return &syslogSender{network: s.Network, address: s.Address, version: o.Version, host: hostname()}
}

func (s *syslogSender) kind() string { return "syslog" }

func (s *syslogSender) encode(_ *recipient, a alert.Alert) ([]byte, error) {
	line := syslogLine(a, s.version, s.host)
	if s.network == "udp" && len(line) > maxUDP {
		line = line[:maxUDP]
	}
	if s.network == "tcp" {
		line += "\n"
	}
	return []byte(line), nil
}

func (s *syslogSender) send(ctx context.Context, line []byte, _ *alert.Alert, _ int) error {
	if s.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, s.network, s.address)
		if err != nil {
			return fmt.Errorf("cannot connect to syslog %s://%s: %w", s.network, s.address, err)
		}
		s.conn = c
	}
	if dl, ok := ctx.Deadline(); ok {
		s.conn.SetWriteDeadline(dl)
	}
	if _, err := s.conn.Write(line); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("cannot write to syslog %s://%s: %w", s.network, s.address, err)
	}
	return nil
}

func (s *syslogSender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
