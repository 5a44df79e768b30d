#!/usr/bin/env bash
# Where the CPU goes, in the production shape (docs/benchmarks-production.md): the benchmark's --serve mode starts
# `keyless keyserver` (PEM keys, audit log, the tenant's own cluster) and `keyless edge` as separate processes with
# mutual TLS and edge sessions, plus the same edge with its keys in-process; this warms up, drives one edge with
# 4 `openssl s_time` clients and prints CPU time per handshake of each process (from /proc) and context switches
# per handshake (perf stat, if present). With --trace it also records the driven processes with dotnet-trace
# (open the .nettrace files in PerfView or speedscope); with --perf it samples them with `perf record` (JIT code named
# through DOTNET_PerfMapEnabled) and prints each one's hottest functions.
#   bench/profile.sh [--trace | --perf] [--seconds N] [--in-process] [--env NAME=VALUE]... [s_time options...]   default: -new -tls1_3
# --in-process drives the edge that holds the keys instead (the baseline). --env sets a variable for the served
# processes (e.g. --env DOTNET_gcServer=1), to compare a runtime setting.
# CPU per handshake is the figure to compare between builds: it holds up when other work shares the machine,
# handshakes per second do not.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=0; perf=0; seconds=10; in_process=0; serve_options=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --trace) trace=1; shift ;;
    # W^X off: with it, JIT code runs from a double mapping (memfd:doublemapper) that perf cannot name from the map.
    --perf) perf=1; serve_options+=(--env DOTNET_PerfMapEnabled=1 --env DOTNET_EnableWriteXorExecute=0); shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --in-process) in_process=1; shift ;;
    --env) serve_options+=(--env "$2"); shift 2 ;;
    *) break ;;
  esac
done
client_options=("$@"); [[ ${#client_options[@]} -gt 0 ]] || client_options=(-new -tls1_3)

command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build -c Release bench/KeylessOrleans.Benchmarks -nologo -clp:ErrorsOnly >/dev/null
out=$(mktemp -d /tmp/keyless-profile.XXXXXX)
(exec dotnet bench/KeylessOrleans.Benchmarks/bin/Release/net10.0/KeylessOrleans.Benchmarks.dll --serve "${serve_options[@]}" >"$out/serve.log" 2>&1) &
serve=$!
trap 'kill -TERM $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
for _ in $(seq 180); do grep -q "production shape ready" "$out/serve.log" 2>/dev/null && break; kill -0 $serve 2>/dev/null || break; sleep 1; done
ready=$(grep "production shape ready" "$out/serve.log") || { cat "$out/serve.log"; echo "the production shape did not start" >&2; exit 1; }
field() { awk -v name="$1" '{for (i = 1; i < NF; i++) if ($i == name) print $(i + 1)}' <<<"$ready"; }
if [[ $in_process == 1 ]]; then
  port=$(field in-process-port); names=("in-process edge"); pids=("$(field in-process-pid)")
else
  port=$(field keyless-port); names=("edge" "key server"); pids=("$(field edge-pid)" "$(field keyserver-pid)")
fi

load() { # load SECONDS: 4 clients; prints the number of handshakes
  local clients=() i
  for i in 1 2 3 4; do openssl s_time -connect "127.0.0.1:$port" -time "$1" "${client_options[@]}" >"$out/client$i.txt" 2>&1 & clients+=($!); done
  wait "${clients[@]}"
  cat "$out"/client*.txt | awk '/connections in [0-9.]+s/ {n+=$1} END {print n+0}'
}
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

# Warm-up (JIT tiers, Orleans connections, edge session) until the driven processes' JIT has settled: with a fixed
# 10 s the edge was still compiling at ~70 % of a core.
if [[ $in_process == 1 ]]; then admins=("$(field in-process-admin)"); else admins=("$(field edge-admin)" "$(field keyserver-admin)"); fi
jitted() { local a n=0; for a in "${admins[@]}"; do n=$((n + $(curl -s "http://127.0.0.1:$a/metrics" | awk '/^dotnet_jit_compiled_methods_total/ {printf "%d", $NF}'))); done; echo $n; }
previous=$(jitted)
for round in $(seq 20); do
  load 8 >/dev/null
  now=$(jitted); ((now - previous <= 100)) && break; previous=$now
done
echo "warm after $round rounds of 8 s"
before=(); for pid in "${pids[@]}"; do before+=("$(cpu_ticks "$pid")"); done
# Where a handshake's time goes: the mean of each latency histogram over the measured load (sum and count of every
# series of it, summed over the driven processes' /metrics).
histograms=(keyless_edge_handshake_duration_milliseconds keyless_edge_key_call_duration_milliseconds keyless_keyserver_operation_duration_milliseconds)
histogram_totals() { local a; for a in "${admins[@]}"; do curl -s "http://127.0.0.1:$a/metrics"; done |
  awk -v name="$1" '$1 ~ "^" name "_sum" {s += $NF} $1 ~ "^" name "_count" {c += $NF} END {printf "%f %d", s, c}'; }
latency_before=(); for h in "${histograms[@]}"; do latency_before+=("$(histogram_totals "$h")"); done
helpers=()
if command -v perf >/dev/null; then
  for i in "${!pids[@]}"; do perf stat -e context-switches -p "${pids[$i]}" -o "$out/switches$i.txt" -- sleep "$((seconds - 1))" & helpers+=($!); done
fi
if [[ $trace == 1 ]]; then
  command -v dotnet-trace >/dev/null || export PATH="$PATH:$HOME/.dotnet/tools"
  command -v dotnet-trace >/dev/null || dotnet tool install -g dotnet-trace >/dev/null
  for i in "${!pids[@]}"; do
    dotnet-trace collect -p "${pids[$i]}" --profile dotnet-sampled-thread-time --duration "00:00:00:$((seconds - 1))" -o "$out/process$i.nettrace" >/dev/null & helpers+=($!)
  done
fi
if [[ $perf == 1 ]]; then
  for i in "${!pids[@]}"; do perf record -q -F 499 -g -p "${pids[$i]}" -o "$out/perf$i.data" -- sleep "$((seconds - 1))" 2>/dev/null & helpers+=($!); done
fi
handshakes=$(load "$seconds")
((${#helpers[@]})) && wait "${helpers[@]}" 2>/dev/null || true
tick_us=$((1000000 / $(getconf CLK_TCK)))
for i in "${!histograms[@]}"; do
  read -r sum count <<<"$(histogram_totals "${histograms[$i]}")"; read -r sum0 count0 <<<"${latency_before[$i]}"
  ((count > count0)) && awk -v n="${histograms[$i]}" -v s="$sum" -v s0="$sum0" -v c=$((count - count0)) \
    'BEGIN {printf "mean %s: %.3f ms over %d\n", n, (s - s0) / c, c}'
done
echo "s_time ${client_options[*]} against the ${names[0]} ($port): $handshakes handshakes in ${seconds} s ($((handshakes / seconds))/s)"
for i in "${!pids[@]}"; do
  after=$(cpu_ticks "${pids[$i]}")
  echo "${names[$i]} (pid ${pids[$i]}) CPU per handshake: $(((after - before[i]) * tick_us / handshakes)) µs"
  [[ -f $out/switches$i.txt ]] && echo "${names[$i]} context switches per handshake: $(($(awk '/context-switches/ {gsub(",","",$1); print $1}' "$out/switches$i.txt") / handshakes))"
  [[ -f $out/process$i.nettrace ]] && echo "${names[$i]} trace: $out/process$i.nettrace"
  if [[ -f $out/perf$i.data ]]; then
    perf report -i "$out/perf$i.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' >"$out/perf$i.txt" || true
    echo "${names[$i]} hottest functions (self time; all in $out/perf$i.txt, call graphs: perf report -i $out/perf$i.data):"
    head -25 "$out/perf$i.txt"
  fi
done
echo "(files in $out)"
