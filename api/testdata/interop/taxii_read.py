"""Read COP's TAXII 2.1 server as a partner would, with the OASIS taxii2-client.

Usage: taxii_read.py DISCOVERY_URL TOKEN ADDED_AFTER PER_REQUEST
Prints one JSON object: what discovery, the API root, the collections, the paged objects
and the paged manifest of the real picture's collection gave.
"""
import json
import sys

import requests
from taxii2client.v21 import Server, as_pages


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


url, token, added_after, per_request = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
server = Server(url, auth=Bearer(token))
root = server.default or server.api_roots[0]
out = {"title": server.title, "api_roots": [r.url for r in server.api_roots], "root_versions": root.versions,
       "collections": [{"id": c.id, "title": c.title, "can_read": c.can_read} for c in root.collections]}
picture = next(c for c in root.collections if c.title == "COP real picture")
pages, objects = 0, []
for envelope in as_pages(picture.get_objects, per_request=per_request, added_after=added_after):
    pages += 1
    objects += envelope.get("objects", [])
manifest = []
for envelope in as_pages(picture.get_manifest, per_request=per_request, added_after=added_after):
    manifest += envelope.get("objects", [])
one = picture.get_object(objects[0]["id"]) if objects else {}
out.update({"pages": pages, "objects": objects, "manifest": manifest,
            "one": [o["id"] for o in one.get("objects", [])]})
print(json.dumps(out))
