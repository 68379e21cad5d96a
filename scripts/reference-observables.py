#!/usr/bin/env python3
"""Print the observables the reference parsers see in STIX 2.1 or MISP files.

The reference view COP's recall is measured against (ingest/recall_test.go): for STIX,
every value an indicator's pattern compares with '=' or IN (OASIS stix2-patterns) and every
SCO an observed-data refers to or embeds (OASIS stix2, parsed); for MISP, every attribute
PyMISP loads (event and objects), not deleted and without an expiration sighting. Only the
observable types COP models are printed (ipv4, ipv6, cidr, domain, url, email, md5, sha1,
sha256, cve, asn), one "type<TAB>value" line each, values as the file writes them (COP's
test normalises both sides the same way).

Usage: reference-observables.py stix|misp FILE...  (needs stix2, stix2-patterns, pymisp)
"""
import ipaddress
import json
import sys


def ip_type(v):
    if "/" in v:
        return "cidr"
    try:
        return "ipv6" if ipaddress.ip_address(v).version == 6 else "ipv4"
    except ValueError:
        return "ipv6" if ":" in v else "ipv4"


HASHES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256"}
EMAIL_REFS = {"from_ref", "sender_ref", "to_refs", "cc_refs", "bcc_refs"}


def stix_path(obj_type, path, value, out):
    """Adds what comparing obj_type:path with value names."""
    names = [p for p in path if isinstance(p, str)]
    if obj_type in ("ipv4-addr", "ipv6-addr") and names == ["value"]:
        out.add((ip_type(value), value))
    elif obj_type == "domain-name" and names == ["value"]:
        out.add(("domain", value))
    elif obj_type == "domain-name" and names == ["resolves_to_refs", "value"]:
        out.add((ip_type(value), value))
    elif obj_type == "url" and names == ["value"]:
        out.add(("url", value))
    elif obj_type == "email-addr" and names == ["value"]:
        out.add(("email", value))
    elif obj_type == "email-message" and len(names) == 2 and names[0] in EMAIL_REFS and names[1] == "value":
        out.add(("email", value))
    elif obj_type in ("file", "artifact") and len(names) == 2 and names[0] == "hashes" and names[1].lower() in HASHES:
        out.add((HASHES[names[1].lower()], value))
    elif obj_type == "autonomous-system" and names == ["number"]:
        out.add(("asn", "AS%d" % int(value)))
    elif obj_type == "network-traffic" and len(names) == 2 and names[0] in ("dst_ref", "src_ref") and names[1] == "value":
        out.add(("network-traffic", value))  # typed below: address or domain


def stix_sco(o, out):
    t = o.get("type")
    if t in ("ipv4-addr", "ipv6-addr") and "value" in o:
        out.add((ip_type(o["value"]), o["value"]))
    elif t == "domain-name" and "value" in o:
        out.add(("domain", o["value"]))
    elif t == "url":
        out.add(("url", o["value"]))
    elif t == "email-addr":
        out.add(("email", o["value"]))
    elif t in ("file", "artifact"):
        for k, v in (o.get("hashes") or {}).items():
            if k.lower() in HASHES:
                out.add((HASHES[k.lower()], v))
    elif t == "autonomous-system":
        out.add(("asn", "AS%d" % int(o["number"])))


def stix_file(path):
    from stix2patterns.pattern import Pattern
    import stix2

    doc = json.load(open(path, encoding="utf-8"))
    stix2.parse(doc, allow_custom=True)  # the reference parser must read the file
    objs = doc.get("objects", [])
    byid = {o.get("id"): o for o in objs}
    out = set()
    for o in objs:
        if o.get("type") == "indicator" and o.get("pattern_type", "stix") == "stix":
            comps = Pattern(o["pattern"]).inspect().comparisons
            for obj_type, terms in comps.items():
                for p, op, val in terms:
                    if op.startswith("NOT"):
                        continue
                    vals = val if isinstance(val, list) else [val]
                    if op not in ("=", "IN"):
                        continue
                    for v in vals:
                        stix_path(obj_type, p, str(v).strip("'") if isinstance(v, str) else v, out)
        elif o.get("type") == "observed-data":
            for ref in o.get("object_refs", []):
                if ref in byid:
                    stix_sco(byid[ref], out)
            for sco in (o.get("objects") or {}).values():
                stix_sco(sco, out)
    typed = set()
    for t, v in out:
        if t == "network-traffic":
            try:
                ipaddress.ip_address(v)
                t = ip_type(v)
            except ValueError:
                t = "domain"
        typed.add((t, str(v)))
    return typed


MISP_TYPES = {
    "ip-src": "ip", "ip-dst": "ip", "ip-src|port": "ip|", "ip-dst|port": "ip|", "domain": "domain",
    "hostname": "domain", "domain|ip": "domain|ip", "hostname|port": "domain|", "url": "url",
    "md5": "md5", "sha1": "sha1", "sha256": "sha256", "filename|md5": "|md5", "filename|sha1": "|sha1",
    "filename|sha256": "|sha256", "malware-sample": "|md5", "email": "email", "email-src": "email",
    "email-dst": "email", "email-reply-to": "email", "whois-registrant-email": "email",
    "vulnerability": "cve", "AS": "asn",
}


def misp_attr(a, out):
    if getattr(a, "deleted", False):
        return
    if any(str(getattr(s, "type", "0")) == "2" for s in getattr(a, "sightings", []) or []):
        return
    m = MISP_TYPES.get(a.type)
    if m is None:
        return
    v = str(a.value)
    left, _, right = v.partition("|")
    if m == "ip":
        out.add((ip_type(v), v))
    elif m == "ip|":
        out.add((ip_type(left), left))
    elif m == "domain|":
        out.add(("domain", left))
    elif m == "domain|ip":
        out.add(("domain", left))
        out.add((ip_type(right), right))
    elif m.startswith("|"):
        out.add((m[1:], right))
    elif m == "asn":
        out.add(("asn", v if v.upper().startswith("AS") else "AS" + v))
    else:
        out.add((m, v))


def misp_file(path):
    from pymisp import MISPEvent

    doc = json.load(open(path, encoding="utf-8"))
    if isinstance(doc, dict) and "response" in doc:
        doc = doc["response"]
    events = doc if isinstance(doc, list) else [doc]
    out = set()
    for d in events:
        ev = MISPEvent()
        ev.from_dict(**d)
        for a in ev.attributes:
            misp_attr(a, out)
        for o in ev.objects:
            for a in o.attributes:
                misp_attr(a, out)
    return out


def main():
    kind, files = sys.argv[1], sys.argv[2:]
    parse = {"stix": stix_file, "misp": misp_file}[kind]
    for f in files:
        for t, v in sorted(parse(f)):
            print("%s\t%s" % (t, v))


if __name__ == "__main__":
    main()
