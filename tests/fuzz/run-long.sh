#!/usr/bin/env bash
# The long form of the TLS-port fuzz test (FuzzTests in tests/KeylessOrleans.Edge.Tests): same assertions as CI,
# many more inputs. Usage: tests/fuzz/run-long.sh [inputs=200000] [seed=random] [concurrency=48]
# Prints the report (inputs, time, outcome mix, memory); docs/reliability.md records a run.
set -euo pipefail
cd "$(dirname "$0")/../.."

export KEYLESS_FUZZ_INPUTS="${1:-200000}"
[[ -n "${2:-}" ]] && export KEYLESS_FUZZ_SEED="$2"
export KEYLESS_FUZZ_CONCURRENCY="${3:-48}"
report="$(mktemp -t keyless-fuzz.XXXXXX)"
trap 'rm -f "$report"' EXIT
export KEYLESS_FUZZ_REPORT="$report"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build tests/KeylessOrleans.Edge.Tests -nologo -clp:ErrorsOnly
started=$(date +%s)
status=0
dotnet test tests/KeylessOrleans.Edge.Tests --no-build --filter "FullyQualifiedName~KeylessOrleans.Edge.Tests.FuzzTests" \
  --logger "console;verbosity=normal" || status=$?
echo "--- fuzz report ($(($(date +%s) - started)) s including the test cluster's start) ---"
cat "$report" 2>/dev/null || echo "(no report: the test failed before the end; its output above has the seed)"
exit "$status"
