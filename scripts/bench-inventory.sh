#!/usr/bin/env bash
# Inventory benchmark of issue 2: the debootstrap Debian image split into 12
# layers, as an OCI layout (gzip layers) and as a docker-save archive
# (uncompressed layers); optionally a ~1 GB variant for the memory bound.
#
#   scripts/bench-inventory.sh [OUT_DIR] [BULK_MB]
#
# Prints, for each form: the floor (gzip -dc over the layer blobs, or reading
# every byte of the archive with tar -tv), customs' cold inventory (wall, CPU,
# peak RSS) and its warm (cached) rescan. Compare within one run only.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${TMPDIR:-/tmp}/customs-bench}
BULK=${2:-0}
BIN=$OUT/customs
go build -o "$BIN" ./cmd/customs
[ -f "$OUT/docker.tar" ] || go run ./internal/tools/benchimage -out "$OUT" -bulk-mb "$BULK"
t() { /usr/bin/time -f "  %C\n    wall %e s, cpu %U+%S s, peak RSS %M KB" "$@" >/dev/null; }
echo "== image: $(du -sh "$OUT/oci" | cut -f1) OCI layout, $(du -sh "$OUT/docker.tar" | cut -f1) docker archive"
echo "== floor"
t sh -c "for f in $OUT/oci/blobs/sha256/*; do gzip -dc \$f 2>/dev/null; done"
t sh -c "cat $OUT/docker.tar | tar -tvf -"
for src in "$OUT/oci" "$OUT/docker.tar"; do
  echo "== customs, package inventory only, cold: $src"
  t "$BIN" image "$src" --scanners package --no-cache -q -f json
  rm -rf "$OUT/cache"
  t "$BIN" image "$src" --scanners package --cache-dir "$OUT/cache" -q -f json
  echo "== warm rescan"
  t "$BIN" image "$src" --scanners package --cache-dir "$OUT/cache" -q -f json
  echo "== customs, every scanner, cold"
  t "$BIN" image "$src" --no-cache -q -f json
done
