#!/usr/bin/env bash
# The benchmark, with what it drives installed first: openssl (s_time clients), curl (bulk downloads), nginx (the
# baseline that holds the key itself), softhsm2 (for --hsm), redis-server (for --control-plane). Arguments go to the benchmark.
# By default it measures the production shape first (docs/benchmarks-production.md): `keyless edge` and `keyless
# keyserver` as separate processes with mutual TLS and edge sessions, against the same edge holding the keys in its
# own process and against nginx, plus two cold starts of the edge (with the key server, and restarted alone against the
# running key server); then the one-process reference rows. About 10 minutes
# with the default 6 s per row on a quiet 2-core machine (--production-only: about 5; the warm-up until the JIT has
# settled takes up to 2 of them).
# --ready-to-run publishes `keyless` with ReadyToRun code (PublishReadyToRun, linux-x64) and runs the production shape
# on that build: less for the JIT to compile at start (docs/benchmarks-production.md, "Cold start").
#   bench/run.sh [--seconds N] [--clients N] [--only TEXT] [--production-only | --reference-only] [--env NAME=VALUE]... [--ready-to-run]
#   bench/run.sh --hsm | --audit | --delegation | --key-agreement
#   bench/run.sh --key-calls [--seconds N] [--clients N] [--env NAME=VALUE]...   (one remote key call: CPU of the edge's side and the key server's)
#   bench/run.sh --control-plane [--tenants N] [--changes N] [--propagations N] [--served N]   (docs/control-plane.md)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A tools=([openssl]=openssl [curl]=curl [nginx]=nginx-light [softhsm2-util]=softhsm2 [tstclnt]=libnss3-tools [redis-server]=redis-server [redis-cli]=redis-tools)
missing=()
for tool in "${!tools[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}"); done
if ((${#missing[@]})); then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
args=()
for arg in "$@"; do
  if [[ $arg == --ready-to-run ]]; then
    published="${TMPDIR:-/tmp}/keyless-ready-to-run"
    dotnet publish src/KeylessOrleans.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$published" >&2
    args+=(--keyless "$published/keyless.dll")
  else
    args+=("$arg")
  fi
done
dotnet run -c Release --project bench/KeylessOrleans.Benchmarks -- "${args[@]}"
