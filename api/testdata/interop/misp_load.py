"""Read COP's MISP feed as a MISP instance would, and load every event with PyMISP.

Usage: misp_load.py FEED_URL TOKEN
Prints {uuid: {"info", "orgc", "tags", "attributes": [[type, value, to_ids]], "manifest_info"}}
and the hashes.csv lines under "_hashes".
"""
import json
import sys

import requests
from pymisp import MISPEvent

url, token = sys.argv[1].rstrip("/"), sys.argv[2]
s = requests.Session()
s.headers["Authorization"] = "Bearer " + token
manifest = s.get(url + "/manifest.json")
manifest.raise_for_status()
out = {}
for uuid, meta in manifest.json().items():
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
print(json.dumps(out))
