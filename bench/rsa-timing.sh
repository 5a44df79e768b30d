#!/usr/bin/env bash
# Timing evidence for RSA premaster decryption with deterministic implicit rejection (docs/rsa-timing.md): times
# IPrivateKey.DecryptPremaster for good padding and each kind of bad padding, interleaved in random order, on the
# PEM and the SoftHSM2 key store, and prints Welch's t-test and Kolmogorov–Smirnov p-values against good padding.
# Not a test: run it on a quiet machine.
#   bench/rsa-timing.sh [--count N (default 100000 per kind)] [--store pem|hsm|both] [--seed N]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v softhsm2-util >/dev/null 2>&1; then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends softhsm2
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release bench/KeylessOrleans.Benchmarks -nologo -clp:ErrorsOnly >&2
exec dotnet run -c Release --no-build --project bench/KeylessOrleans.Benchmarks -- --rsa-timing "$@"
