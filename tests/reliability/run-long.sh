#!/usr/bin/env bash
# The long form of the reliability drills (CI runs the short form inside ./tests/run.sh): every phase of the
# fault drills stretched KEYLESS_DRILL_SCALE times (default 5) with KEYLESS_DRILL_CLIENTS concurrent clients per
# load (default 8), then the TLS fuzzer with KEYLESS_FUZZ_INPUTS malformed inputs (default 200,000).
# Figures go to the console and to tests/reliability/results-<date>.log; docs/reliability.md records a run.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in redis-server openssl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends redis-server openssl
    break
  fi
done

export KEYLESS_DRILL_SCALE="${KEYLESS_DRILL_SCALE:-5}" KEYLESS_DRILL_CLIENTS="${KEYLESS_DRILL_CLIENTS:-8}"
export KEYLESS_FUZZ_INPUTS="${KEYLESS_FUZZ_INPUTS:-200000}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log="tests/reliability/results-$(date +%Y%m%d-%H%M%S).log"
echo "scale $KEYLESS_DRILL_SCALE, $KEYLESS_DRILL_CLIENTS clients per load, $KEYLESS_FUZZ_INPUTS fuzz inputs; log: $log"

dotnet build KeylessOrleans.sln -c Release -nologo -clp:ErrorsOnly
{
  dotnet test tests/KeylessOrleans.Reliability.Tests -c Release --no-build --logger "console;verbosity=detailed"
  tests/fuzz/run-long.sh "$KEYLESS_FUZZ_INPUTS"
} 2>&1 | tee "$log"
