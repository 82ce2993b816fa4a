#!/usr/bin/env bash
# The standing performance target: customs' full default scan (packages,
# vulnerabilities, secrets, malware, configuration) of a docker archive,
# cold, against each peer's partial job on the same archive (osv-scanner's
# SBOM + vulnerability scan, Trivy's secret-only scan, Syft's SBOM), in one
# run on one machine; then customs' cached rescan.
#
#   scripts/bench-peers.sh IMAGE.tar [WORK_DIR] [OSV_DIR]
#
# Peers come from ../shared/bench/peers.sh install. Both customs and
# osv-scanner get the same OSV records, offline: OSV_DIR (for example 10,000
# records from scripts/bench-osv.py), else the bundled test records.
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=$(realpath "$1")
WORK=${2:-${TMPDIR:-/tmp}/customs-bench-peers}
PEERS_SH=$(realpath ../shared/bench/peers.sh)
mkdir -p "$WORK"
BIN=$WORK/customs
go build -o "$BIN" ./cmd/customs

# One OSV dataset for both: customs imports it, osv-scanner reads per-ecosystem zips.
rm -rf "$WORK/db" "$WORK/osvdb"
OSV=$(realpath "${3:-internal/vulndb/testdata/osv}")
"$BIN" db import --db-dir "$WORK/db" "$OSV" >/dev/null
python3 - "$WORK/osvdb" "$OSV" <<'PY'
import json, os, sys, zipfile
out, src = sys.argv[1], sys.argv[2]
by_eco = {}
for name in sorted(os.listdir(src)):
    rec = json.load(open(os.path.join(src, name)))
    for aff in rec.get("affected", []):
        eco = aff["package"]["ecosystem"].split(":")[0]
        by_eco.setdefault(eco, {})[name] = rec
for eco, recs in by_eco.items():
    d = os.path.join(out, "osv-scalibr", eco)
    os.makedirs(d, exist_ok=True)
    with zipfile.ZipFile(os.path.join(d, "all.zip"), "w") as z:
        for name, rec in recs.items():
            z.writestr(name, json.dumps(rec))
PY

t() { /usr/bin/time -f "    wall %e s, cpu %U+%S s, peak RSS %M KB" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; return 1; }; tail -1 "$WORK/err"; }
echo "== $(du -h "$IMG" | cut -f1) $IMG"
echo "customs image (full default scan, no cache)"
t "$BIN" image "$IMG" --no-cache --db-dir "$WORK/db" -q -f json
echo "osv-scanner (SBOM + vulnerabilities)"
t bash "$PEERS_SH" osv "$IMG" "$WORK/osvdb"
echo "trivy (secrets only)"
t bash "$PEERS_SH" secrets "$IMG"
echo "syft (SBOM only)"
t env SYFT_CHECK_FOR_APP_UPDATE=false "$HOME/.cache/customs-peers/bin/syft" "docker-archive:$IMG" -q -o cyclonedx-json
echo "customs image, cached rescan"
rm -rf "$WORK/cache"
"$BIN" image "$IMG" --cache-dir "$WORK/cache" --db-dir "$WORK/db" -q -f json >/dev/null
t "$BIN" image "$IMG" --cache-dir "$WORK/cache" --db-dir "$WORK/db" -q -f json
