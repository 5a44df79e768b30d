#!/usr/bin/env bash
# The one test command (README, CI): installs the system tools the tests drive, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package, for every external tool a test calls.
declare -A tools=(
  [openssl]=openssl   # independent verifier for Ed25519 signatures; s_client against the edge
  [curl]=curl         # HTTPS client against the edge
  [redis-server]=redis-server         # clustering store for the multi-host tests (deploy/local)
  [systemd-analyze]=systemd           # verifies deploy/systemd units
  [softhsm2-util]=softhsm2            # a real PKCS#11 token for the HSM key store
  [prlimit]=util-linux                # runs an edge with a low open-file limit
  [testssl]=testssl.sh                # ROBOT, Heartbleed, CCS, renegotiation and fallback scan of a running edge
  [ip]=iproute2                       # network namespaces and veth links for the WAN drills (needs root)
  [gnutls-cli]=gnutls-bin             # a second, independent TLS client (Ed25519, P-384, FFDHE)
  [tstclnt]=libnss3-tools             # NSS's client: the one with delegated credentials (RFC 9345)
  [firefox-esr]=firefox-esr           # a browser taking delegated credentials, headless, DNS pinned to loopback
  [chromium]=chromium                 # a second browser: sends an X25519MLKEM768 key share, headless, DNS pinned to loopback
)

missing=()
for tool in "${!tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}")
done
if ((${#missing[@]})); then
  echo "tests/run.sh: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build KeylessOrleans.sln -nologo -clp:ErrorsOnly
# One test assembly at a time (-m:1): they start clusters, listeners and real processes on loopback ports,
# and on a 2-core machine running them side by side only adds contention and port races.
results=$(mktemp -d "${TMPDIR:-/tmp}/keyless-test-results-XXXXXX")
trap 'rm -rf "$results"' EXIT
status=0
dotnet test KeylessOrleans.sln --no-build -m:1 --logger trx --results-directory "$results" "$@" || status=$?

# Where the suite's time goes: the slowest tests, from the runs' trx files (duration="hh:mm:ss.fffffff").
echo "Slowest tests:"
grep -ho '<UnitTestResult [^>]*' "$results"/*.trx 2>/dev/null \
  | sed -n 's/.*testName="\([^"]*\)".*duration="\([0-9:.]*\)".*/\2 \1/p' \
  | awk '{ split($1, t, ":"); printf "%8.1f s  %s\n", t[1] * 3600 + t[2] * 60 + t[3], substr($0, index($0, " ") + 1) }' \
  | sort -rn | head -20 || true
exit "$status"
