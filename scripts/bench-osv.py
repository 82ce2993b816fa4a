#!/usr/bin/env python3
"""Write N synthetic OSV records for the benchmark of scripts/bench-peers.sh.

    scripts/bench-osv.py SBOM.json OUT_DIR [N]

SBOM.json is customs' JSON report of the benchmark image (`customs image IMG
-f json --scanners package`): every record names one of its packages, in
the ecosystem customs and osv-scanner look it up in (Debian:12 by source
package, npm, PyPI, Go), with a range that affects the installed version
for one record in twenty. The records are made up (ids BENCH-*) and exist
only so that both scanners match a database of realistic size; they say
nothing about real vulnerabilities.
"""
import json
import os
import sys

ECOSYSTEM = {"deb": "Debian:12", "npm": "npm", "pypi": "PyPI", "golang": "Go"}
LOWEST = {"Debian:12": "0~bench", "npm": "0.0.0-bench", "PyPI": "0.0.0.dev0", "Go": "0.0.0-bench"}


def main():
    sbom, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    pkgs = []
    for p in json.load(open(sbom))["packages"]:
        eco = ECOSYSTEM.get(p["type"])
        if not eco:
            continue
        name = p.get("source_name") if p["type"] == "deb" and p.get("source_name") else p["name"]
        version = p.get("source_version") if p["type"] == "deb" and p.get("source_version") else p["version"]
        pkgs.append((eco, name, version))
    if not pkgs:
        sys.exit("no packages of a supported ecosystem in " + sbom)
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        eco, name, version = pkgs[i % len(pkgs)]
        affects = i % 20 == 0
        kind = "SEMVER" if eco == "Go" else "ECOSYSTEM"
        if eco == "Go":
            version = version.lstrip("v")
        if affects:
            events = [{"introduced": "0"}, {"last_affected": version}]
        else:  # fixed below every real version: never matches
            events = [{"introduced": "0"}, {"fixed": LOWEST[eco]}]
        rec = {
            "schema_version": "1.6.0",
            "id": "BENCH-%05d" % i,
            "modified": "2026-11-30T00:00:00Z",
            "published": "2026-11-01T00:00:00Z",
            "summary": "synthetic benchmark record %d" % i,
            "affected": [{"package": {"ecosystem": eco, "name": name}, "ranges": [{"type": kind, "events": events}]}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}] if affects else [],
        }
        with open(os.path.join(out, rec["id"] + ".json"), "w") as f:
            json.dump(rec, f)


if __name__ == "__main__":
    main()
