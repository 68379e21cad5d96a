#!/usr/bin/env python3
"""Runs SQL statements on chdb (ClickHouse in process) for TestCurrentClickHouse.

Reads JSON lines {"sql": ...} on stdin; writes one JSON line {"version": ...} and then one
{"error": ...} per statement, in order ("" when it ran), on stdout. One fresh session,
so the statements see each other's tables and rows.
"""
import json
import sys
import tempfile

from chdb import session

s = session.Session(tempfile.mkdtemp(prefix="cop-chdb-"))
s.query("CREATE DATABASE IF NOT EXISTS cop")
version = str(s.query("SELECT version()", "CSV")).strip().strip('"')
print(json.dumps({"version": version}))
for line in sys.stdin:
    sql = json.loads(line)["sql"]
    try:
        s.query(sql)
        err = ""
    except Exception as e:  # chdb raises ChdbError with the server's message
        err = str(e)
    print(json.dumps({"error": err}), flush=True)
