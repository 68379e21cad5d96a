"""Read COP's MISP feed as a MISP instance would, and load every event with PyMISP.

Usage: misp_load.py FEED_URL TOKEN [UUID...]
Loads every event of the manifest, or only the UUIDs named that it lists (the test database
holds other tests' events too). Prints {uuid: {"info", "orgc", "tags", "attributes":
[[type, value, to_ids]], "manifest_info"}}, the hashes.csv lines under "_hashes" and the
manifest's size under "_manifest".
"""
import json
import sys

import requests
from pymisp import MISPEvent

url, token, only = sys.argv[1].rstrip("/"), sys.argv[2], set(sys.argv[3:])
s = requests.Session()
s.headers["Authorization"] = "Bearer " + token
manifest = s.get(url + "/manifest.json")
manifest.raise_for_status()
out = {}
listed = manifest.json()
for uuid, meta in listed.items():
    if only and uuid not in only:
        continue
    r = s.get(url + "/" + uuid + ".json")
    r.raise_for_status()
    e = MISPEvent()
    e.load(r.text)
    assert e.uuid == uuid, (e.uuid, uuid)
    out[uuid] = {"info": e.info, "orgc": e.Orgc.name, "tags": [t.name for t in e.tags],
                 "attributes": [[a.type, a.value, a.to_ids] for a in e.attributes],
                 "manifest_info": meta["info"], "threat_level_id": int(e.threat_level_id),
                 "date": e.date.isoformat()}
h = s.get(url + "/hashes.csv")
h.raise_for_status()
out["_hashes"] = h.text.splitlines()
out["_manifest"] = len(listed)
print(json.dumps(out))
