#!/usr/bin/env bash
# The long form of the WAN drills (CI runs the short form inside ./tests/run.sh): every measuring phase stretched
# KEYLESS_WAN_SCALE times (default 5), then the figures are written into docs/wan.md between its "wan-figures"
# markers. Needs root (network namespaces) and iproute2, redis-server, openssl; the log goes to
# tests/wan/results-<date>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."

[[ $(id -u) -eq 0 ]] || { echo "tests/wan/run-long.sh: needs root (ip netns)" >&2; exit 2; }
for tool in ip redis-server; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 redis-server
    break
  fi
done

export KEYLESS_WAN_SCALE="${KEYLESS_WAN_SCALE:-5}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
stamp=$(date -u +%Y%m%d-%H%M%S)
log="tests/wan/results-$stamp.log"
report=$(mktemp)
export KEYLESS_WAN_REPORT="$report"
trap 'rm -f "$report"' EXIT
echo "scale $KEYLESS_WAN_SCALE; log: $log"

dotnet build KeylessOrleans.sln -c Release -nologo -clp:ErrorsOnly
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
dotnet test tests/KeylessOrleans.Wan.Tests -c Release --no-build --logger "console;verbosity=detailed" 2>&1 | tee "$log" || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The figures block of docs/wan.md: one line per drill, as the tests reported them.
block=$(mktemp)
{
  echo "<!-- wan-figures:begin (written by tests/wan/run-long.sh) -->"
  echo "Long form of $(date -u '+%Y-%m-%d %H:%M') UTC: scale $KEYLESS_WAN_SCALE, $(nproc) cores, load average $load_before before and $load_after after, tests $( [[ $status -eq 0 ]] && echo passed || echo FAILED )."
  echo
  echo '```'
  sort "$report"
  echo '```'
  echo "<!-- wan-figures:end -->"
} > "$block"
python3 - "$block" docs/wan.md <<'PY'
import re, sys
block = open(sys.argv[1]).read().rstrip("\n")
doc = open(sys.argv[2]).read()
pattern = re.compile(r"<!-- wan-figures:begin.*?<!-- wan-figures:end -->", re.S)
if not pattern.search(doc):
    sys.exit("docs/wan.md has no wan-figures markers")
open(sys.argv[2], "w").write(pattern.sub(lambda _: block, doc))
PY
rm -f "$block"
echo "figures written to docs/wan.md"
exit $status
