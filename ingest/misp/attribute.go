package misp

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

// AttributeTypes lists the MISP attribute types COP turns into observables; any other
// type is skipped and counted in the event's summary.
var AttributeTypes = []string{
	"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain", "hostname", "domain|ip",
	"hostname|port", "url", "md5", "sha1", "sha256", "filename|md5", "filename|sha1",
	"filename|sha256", "malware-sample", "email", "email-src", "email-dst", "email-reply-to",
	"whois-registrant-email", "vulnerability", "AS",
}

// observables maps one attribute to its observables. supported is false for a type COP
// cannot represent; err says why a supported attribute's value is malformed.
func observables(a *attribute) (obs []event.Observable, supported bool, err error) {
	v := strings.TrimSpace(a.Value)
	one := func(t event.ObservableType, v string) ([]event.Observable, bool, error) {
		o, err := event.NewObservable(t, v)
		if err != nil {
			return nil, true, err
		}
		return []event.Observable{o}, true, nil
	}
	// part returns the i-th '|'-separated part of a composite value.
	part := func(i int, want string) (string, error) {
		ps := strings.Split(v, "|")
		if len(ps) != 2 || ps[i] == "" {
			return "", fmt.Errorf("%s: want %s", event.Quote(v), want)
		}
		return ps[i], nil
	}
	switch a.Type {
	case "ip-src", "ip-dst":
		o, err := ipObservable(v)
		return o, true, err
	case "ip-src|port", "ip-dst|port":
		ip, err := part(0, "address|port")
		if err != nil {
			return nil, true, err
		}
		o, err := ipObservable(ip)
		return o, true, err
	case "domain", "hostname":
		return one(event.ObsDomain, v)
	case "hostname|port":
		h, err := part(0, "hostname|port")
		if err != nil {
			return nil, true, err
		}
		return one(event.ObsDomain, h)
	case "domain|ip":
		d, err := part(0, "domain|address")
		if err != nil {
			return nil, true, err
		}
		ip, _ := part(1, "domain|address")
		do, err := event.NewObservable(event.ObsDomain, d)
		if err != nil {
			return nil, true, err
		}
		io, err := ipObservable(ip)
		if err != nil {
			return nil, true, err
		}
		return append(io, do), true, nil
	case "url":
		return one(event.ObsURL, v)
	case "md5":
		return one(event.ObsMD5, v)
	case "sha1":
		return one(event.ObsSHA1, v)
	case "sha256":
		return one(event.ObsSHA256, v)
	case "filename|md5", "filename|sha1", "filename|sha256", "malware-sample":
		h, err := part(1, "filename|hash")
		if err != nil {
			return nil, true, err
		}
		// malware-sample is filename|md5 with the sample attached.
		t := map[string]event.ObservableType{"filename|md5": event.ObsMD5, "filename|sha1": event.ObsSHA1, "filename|sha256": event.ObsSHA256, "malware-sample": event.ObsMD5}[a.Type]
		return one(t, h)
	case "email", "email-src", "email-dst", "email-reply-to", "whois-registrant-email":
		return one(event.ObsEmail, v)
	case "vulnerability":
		return one(event.ObsCVE, v)
	case "AS":
		return one(event.ObsASN, v)
	}
	return nil, false, nil
}

// ipObservable reads an address or a prefix; a full-length prefix is an address.
func ipObservable(v string) ([]event.Observable, error) {
	v = event.Refang(v)
	if p, err := netip.ParsePrefix(v); err == nil {
		if p.Bits() < p.Addr().BitLen() {
			o, err := event.NewObservable(event.ObsCIDR, v)
			return []event.Observable{o}, err
		}
		v = p.Addr().String()
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return nil, fmt.Errorf("%w %s: want an IPv4 or IPv6 address or a CIDR prefix", event.ErrInvalidObservable, event.Quote(v))
	}
	t := event.ObsIPv6
	if a.Unmap().Is4() {
		t = event.ObsIPv4
	}
	o, err := event.NewObservable(t, v)
	if err != nil {
		return nil, err
	}
	return []event.Observable{o}, nil
}
