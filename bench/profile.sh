#!/usr/bin/env bash
# Where the edge's CPU goes, measured on the real processes: starts `keyless demo` (edge, key server and origin as
# separate processes), warms up, drives it with 4 `openssl s_time` clients, and prints CPU time per handshake of the
# edge and of the key server (from /proc) and the edge's context switches per handshake (perf stat, if present).
# With --trace it also records the edge with dotnet-trace (open the .nettrace in PerfView or speedscope).
#   bench/profile.sh [--trace] [--seconds N] [s_time options...]      default: -new -tls1_3
# CPU per handshake is the figure to compare between builds: it holds up when other work shares the machine,
# handshakes per second do not.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=0; seconds=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --trace) trace=1; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    *) break ;;
  esac
done
client_options=("$@"); [[ ${#client_options[@]} -gt 0 ]] || client_options=(-new -tls1_3)

command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release src/KeylessOrleans.Cli -nologo -clp:ErrorsOnly >/dev/null
out=$(mktemp -d /tmp/keyless-profile.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# s_time sends no SNI: the edge serves the demo host by default.
(cd "$out" && Keyless__Edge__DefaultHostName=demo.localhost exec dotnet "$OLDPWD/src/KeylessOrleans.Cli/bin/Release/net10.0/keyless.dll" \
  demo --https-port "$port" >demo.log 2>&1) &
demo=$!
trap 'kill -TERM $demo 2>/dev/null; wait $demo 2>/dev/null || true' EXIT
for _ in $(seq 90); do grep -q "Ctrl-C stops" "$out/demo.log" 2>/dev/null && break; sleep 1; done
edge=$(grep -o "edge pid [0-9]*" "$out/demo.log" | grep -o "[0-9]*")
keyserver=$(grep -o "key server pid [0-9]*" "$out/demo.log" | grep -o "[0-9]*")

load() { # load SECONDS: 4 clients; prints the number of handshakes
  local pids=() i
  for i in 1 2 3 4; do openssl s_time -connect "127.0.0.1:$port" -time "$1" "${client_options[@]}" >"$out/client$i.txt" 2>&1 & pids+=($!); done
  wait "${pids[@]}"
  cat "$out"/client*.txt | awk '/real seconds/ {n+=$1} END {print n+0}'
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

load 10 >/dev/null # warm-up: JIT tiers, Orleans connections
e0=$(cpu_ticks "$edge"); k0=$(cpu_ticks "$keyserver")
if command -v perf >/dev/null; then perf stat -e context-switches -p "$edge" -o "$out/switches.txt" -- sleep "$((seconds - 1))" & fi
if [[ $trace == 1 ]]; then
  command -v dotnet-trace >/dev/null || export PATH="$PATH:$HOME/.dotnet/tools"
  command -v dotnet-trace >/dev/null || dotnet tool install -g dotnet-trace >/dev/null
  dotnet-trace collect -p "$edge" --profile dotnet-sampled-thread-time --duration "00:00:00:$((seconds - 1))" -o "$out/edge.nettrace" >/dev/null &
fi
handshakes=$(load "$seconds")
wait $(jobs -p | grep -v "^$demo$") 2>/dev/null || true
e1=$(cpu_ticks "$edge"); k1=$(cpu_ticks "$keyserver")
tick_us=$((1000000 / $(getconf CLK_TCK)))
echo "s_time ${client_options[*]}: $handshakes handshakes in ${seconds} s ($((handshakes / seconds))/s)"
echo "edge CPU per handshake:       $(((e1 - e0) * tick_us / handshakes)) µs"
echo "key server CPU per handshake: $(((k1 - k0) * tick_us / handshakes)) µs"
[[ -f $out/switches.txt ]] && echo "edge context switches per handshake: $(($(awk '/context-switches/ {gsub(",","",$1); print $1}' "$out/switches.txt") / handshakes))"
[[ $trace == 1 ]] && echo "trace: $out/edge.nettrace"
echo "(files in $out)"
