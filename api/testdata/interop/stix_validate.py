"""Validate STIX 2.1 files with the OASIS stix2-validator (and load them with stix2).

Usage: stix_validate.py FILE...
Prints {file: {"valid": bool, "errors": [...], "warnings": [...], "parsed": n}}.
"""
import json
import sys

import stix2
from stix2validator import ValidationOptions, validate_file

out = {}
for path in sys.argv[1:]:
    results = validate_file(path, ValidationOptions(version="2.1"))
    errors, warnings = [], []
    for r in results.object_results:
        errors += [r.object_id + ": " + str(e) for e in r.errors]
        warnings += [r.object_id + ": " + str(w) for w in r.warnings]
    errors += [str(e) for e in getattr(results, "errors", []) or []]
    with open(path) as f:
        bundle = stix2.parse(f.read(), allow_custom=True)
    out[path] = {"valid": results.is_valid, "errors": errors, "warnings": warnings, "parsed": len(bundle.objects)}
print(json.dumps(out))
