#!/usr/bin/env bash
# Soak: runs `keyless demo` (edge, key server and origin as separate processes) under `openssl s_time` load on
# loopback for a given time, samples every process's RSS, open descriptors and threads (/proc), the edge's and the
# key server's GC heap (their /metrics), and the audit log's bytes on disk and written, and fails (exit 1) when
# anything grows past its bound after the warm-up. docs/reliability.md ("Soak") explains the bounds.
#
#   tests/reliability/soak.sh [--duration S] [--interval S] [--warmup S] [--clients N] [--keyless PATH/keyless.dll] [--out DIR]
#
# Defaults: 3600 s, a sample every 30 s, warm-up a sixth of the run (at least 30 s), 4 clients, keyless.dll built
# in Release from src/KeylessOrleans.Cli, files in a new folder under /tmp. CI runs the 2-minute form
# (tests/KeylessOrleans.Reliability.Tests/SoakTests.cs): --duration 120 --interval 10.
# Output: one table row per sample on the console and samples.csv, clients.log, demo.log in the output folder.
# Exit codes: 0 every bound held, 1 a bound was exceeded (named in the summary), 2 the soak could not run.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

duration=3600 interval=30 warmup='' clients=4 keyless='' out=''
# The audit log rotates at 1 MiB and keeps 1 MiB (the defaults are 256 MiB and no limit): a soak should rotate,
# compress and delete hundreds of times (the 2-minute form a few times), and its bytes on disk stay within retention.
audit_rotate_bytes=$((1 << 20)) audit_retain_bytes=$((1 << 20))
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --keyless) keyless=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $warmup ]] || warmup=$((duration / 6 < 30 ? 30 : duration / 6))
if ((duration < warmup + 5 * interval)); then
  echo "soak: --duration $duration leaves fewer than 5 samples after the $warmup s warm-up" >&2; exit 2
fi

# Growth bounds, judged between the first and the last quarter of the samples after the warm-up (at least 3 samples
# each): memory by the lowest sample of each (garbage not yet collected only ever adds to a sample; a leak raises the
# lowest), descriptors and threads by the median (a sample can catch a connection or a pool thread coming or going).
# A bound is a floor for that noise plus a rate per hour, so a short run is judged by the floor and a long one by the
# rate; a run with at least 30 minutes after the warm-up must also keep the least-squares slope of its memory
# samples under the rate (over shorter spans the slope is noise). Justified in docs/reliability.md.
rss_floor_mb=80 rss_per_hour_mb=48       # per process
heap_floor_mb=48 heap_per_hour_mb=24     # managed heap after the last GC (edge, key server)
fd_delta=16                              # open descriptors per process: flat, beyond the clients' few connections
thread_delta=24                          # threads per process: flat, beyond thread-pool adjustment on a busy machine
max_failed_per_million=1000              # failed handshakes (edge outcomes and client errors) per million
# Audit bytes on disk stay below retention plus two rotation sizes: the live file grows to one rotation size
# between rotations, and a rotated file waits for its compression before retention sees it.
audit_disk_bound=$((audit_retain_bytes + 2 * audit_rotate_bytes))

for tool in openssl curl timeout awk; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is missing (tests/run.sh installs the tools)" >&2; exit 2; }
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -z $keyless ]]; then
  dotnet build -c Release src/KeylessOrleans.Cli -nologo -clp:ErrorsOnly >/dev/null
  keyless=$repo/src/KeylessOrleans.Cli/bin/Release/net10.0/keyless.dll
fi
[[ -f $keyless ]] || { echo "soak: $keyless not found" >&2; exit 2; }
[[ -n $out ]] || out=$(mktemp -d /tmp/keyless-soak.XXXXXX)
mkdir -p "$out"
out=$(realpath "$out")
data=$out/data csv=$out/samples.csv

# Ports nothing uses (any state, IPv4 or IPv6), below the ephemeral range so the clients' own connections never take
# them: the HTTPS port, silo ports (edge and key server take two in a row), gateways, admin ports (two in a row).
used_ports=$(awk 'FNR > 1 { n = split($2, a, ":"); h = toupper(a[n]); p = 0
  for (i = 1; i <= length(h); i++) p = p * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
  print p }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
taken=' '
free_port() { # free_port COUNT: the first of COUNT free ports in a row
  local port i ok
  while :; do
    port=$((20000 + RANDOM % 12000)) ok=1
    for ((i = 0; i < $1; i++)); do
      if grep -qx "$((port + i))" <<<"$used_ports" || [[ $taken == *" $((port + i)) "* ]]; then ok=0; break; fi
    done
    ((ok)) || continue
    for ((i = 0; i < $1; i++)); do taken+="$((port + i)) "; done
    echo "$port"; return
  done
}
https_port=$(free_port 1); silo_port=$(free_port 2); gateway_port=$(free_port 1)
keyserver_gateway_port=$(free_port 1); admin_port=$(free_port 2)

demo_pid='' edge_pid='' keyserver_pid='' origin_pid='' client_pids=()
stop_all() {
  local pid i
  for pid in "${client_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  if [[ -n $demo_pid ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    # The demo stops its processes itself (up to 10 s each); whatever still runs after that is killed by PID.
    for ((i = 0; i < 45; i++)); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 1; done
  fi
  for pid in $demo_pid $edge_pid $keyserver_pid $origin_pid; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

echo "soak: ${duration} s, $clients clients, a sample every ${interval} s, warm-up ${warmup} s; files in $out"
# s_time sends no SNI: the edge serves the demo host by default. The audit log is rotated, compressed and deleted
# (retention needs its checkpoints shipped: the heads file).
(cd "$out" && KEYLESS__EDGE__TLS__DEFAULTHOSTNAME=demo.localhost \
  KEYLESS__KEYSERVER__AUDITLOG__ROTATEBYTES=$audit_rotate_bytes KEYLESS__KEYSERVER__AUDITLOG__RETAINBYTES=$audit_retain_bytes \
  KEYLESS__KEYSERVER__AUDITLOG__HEADSFILE=$out/audit-heads.txt \
  exec dotnet "$keyless" demo --data-dir "$data" --https-port "$https_port" --silo-port "$silo_port" \
  --gateway-port "$gateway_port" --key-server-gateway-port "$keyserver_gateway_port" --admin-port "$admin_port" >demo.log 2>&1) &
demo_pid=$!
for ((i = 0; i < 180; i++)); do
  grep -q "KeylessOrleans demo ready" "$out/demo.log" 2>/dev/null && break
  kill -0 "$demo_pid" 2>/dev/null || { echo "soak: the demo exited before serving:" >&2; tail -30 "$out/demo.log" >&2; exit 2; }
  sleep 1
done
grep -q "KeylessOrleans demo ready" "$out/demo.log" || { echo "soak: the demo did not serve within 180 s" >&2; tail -30 "$out/demo.log" >&2; exit 2; }
edge_pid=$(grep -o "edge pid [0-9]*" "$out/demo.log" | grep -o "[0-9]*$")
keyserver_pid=$(grep -o "key server pid [0-9]*" "$out/demo.log" | grep -o "[0-9]*$")
children_of() { # children_of PID: the processes whose parent is PID (from /proc/*/stat; comm may hold spaces)
  local stat rest parent
  for stat in /proc/[0-9]*/stat; do
    rest=$(cat "$stat" 2>/dev/null) || continue
    rest=${rest##*) }
    read -r _ parent _ <<<"$rest"
    if [[ $parent == "$1" ]]; then echo "${stat//[^0-9]/}"; fi
  done
}
for pid in $(children_of "$demo_pid"); do
  [[ $pid == "$edge_pid" || $pid == "$keyserver_pid" ]] || origin_pid=$pid
done
[[ -n $edge_pid && -n $keyserver_pid && -n $origin_pid ]] || { echo "soak: could not find the demo's processes" >&2; exit 2; }
echo "soak: demo pid $demo_pid, edge $edge_pid, key server $keyserver_pid, origin $origin_pid; HTTPS 127.0.0.1:$https_port"

# Four kinds of full handshake, one per client in turn: TLS 1.3 (ECDHE, signature by the key server), TLS 1.3 with a
# request through the origin, TLS 1.2 ECDHE-RSA (ServerKeyExchange signature), TLS 1.2 RSA key exchange (the key
# server derives the master secret).
profiles=("-new -tls1_3" "-new -tls1_3 -www /" "-new -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256" "-new -tls1_2 -cipher AES128-GCM-SHA256")
load_start=$(date +%s)
load_end=$((load_start + duration))
client() { # client INDEX: s_time in chunks of one interval until the load's end; a chunk that fails is counted and logged
  local index=$1 options=${profiles[$((($1 - 1) % ${#profiles[@]}))]} child='' left chunk connections
  trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; exit 0' TERM
  while left=$((load_end - $(date +%s))); ((left >= 1)); do
    chunk=$((left < interval ? left : interval))
    # shellcheck disable=SC2086 # options is a list of s_time options
    timeout --kill-after=5 $((chunk + 30)) openssl s_time -connect "127.0.0.1:$https_port" -time "$chunk" $options >"$out/client$index.out" 2>&1 &
    child=$!
    if wait "$child"; then
      connections=$(awk '/connections in .* real seconds/ {print $1; exit}' "$out/client$index.out")
      echo "$(date +%s) client$index ok ${connections:-0}" >>"$out/clients.log"
    else
      echo "$(date +%s) client$index failed" >>"$out/clients.log"
      sed "s/^/client$index: /" "$out/client$index.out" >>"$out/client-errors.log"
      sleep 1
    fi
    child=''
  done
}
for ((i = 1; i <= clients; i++)); do client "$i" & client_pids+=($!); done

metrics() { curl -s --max-time 10 "http://127.0.0.1:$1/metrics" || true; }
# sum NAME [LABEL_REGEX [EXCLUDE_REGEX]]: the sum of a metric's samples (Prometheus text on stdin) whose labels match.
sum() {
  awk -v name="$1" -v with="${2:-}" -v without="${3:-}" '
    /^#/ { next }
    { series = $0; sub(/ [^ ]+$/, "", series); value = $0; sub(/.* /, "", value) }
    series == name || index(series, name "{") == 1 {
      if ((with == "" || series ~ with) && (without == "" || series !~ without)) total += value
    }
    END { printf "%.0f", total }'
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
process() { # process PID: "RSS_MB,FDS,THREADS", or "-,-,-" when it is gone
  if [[ -r /proc/$1/status ]]; then
    awk -v fds="$(find /proc/"$1"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" '
      /^VmRSS:/ { rss = $2 } /^Threads:/ { threads = $2 }
      END { printf "%.1f,%d,%d", rss / 1024, fds, threads }' "/proc/$1/status"
  else
    echo "-,-,-"
  fi
}
audit_disk() { # bytes and count of the audit log's files (live, rotated, compressed, in flight), not its key, state and lock
  find "$data/keyserver" -maxdepth 1 -name 'audit.log*' ! -name '*.key' ! -name '*.state' ! -name '*.lock' -printf '%s\n' 2>/dev/null |
    awk '{ bytes += $1; files++ } END { printf "%d,%d", bytes, files }'
}

echo "t_s,handshakes,failed,client_errors,edge_rss_mb,edge_fds,edge_threads,edge_heap_mb,edge_gen2_gcs,keyserver_rss_mb,keyserver_fds,keyserver_threads,keyserver_heap_mb,keyserver_gen2_gcs,origin_rss_mb,origin_fds,origin_threads,demo_rss_mb,demo_fds,demo_threads,edge_exceptions,audit_disk_mb,audit_files,audit_written_mb,audit_records,audit_rotations,audit_deleted,audit_errors" >"$csv"
printf '%6s %10s %6s %6s | %-20s | %-20s | %-14s | %-14s | %s\n' t handshakes /s failed "edge rss fd thr heap" "keysrv rss fd thr heap" "origin rss fd thr" "demo rss fd thr" "audit disk files written MB"
previous=0 previous_t=0
sample() { # sample T: one row of samples.csv and of the console table
  local t=$1 edge keyserver handshakes all failed client_errors heap_edge heap_keyserver disk written
  edge=$(metrics "$admin_port") keyserver=$(metrics "$((admin_port + 1))")
  handshakes=$(sum keyless_edge_handshakes_total 'outcome="ok"' <<<"$edge")
  all=$(sum keyless_edge_handshakes_total <<<"$edge")
  failed=$((all - handshakes))
  client_errors=$(grep -c ' failed$' "$out/clients.log" 2>/dev/null || true)
  heap_edge=$(mb "$(sum dotnet_gc_last_collection_heap_size_bytes <<<"$edge")")
  heap_keyserver=$(mb "$(sum dotnet_gc_last_collection_heap_size_bytes <<<"$keyserver")")
  disk=$(audit_disk)
  written=$(mb "$(sum keyless_keyserver_audit_bytes_total <<<"$keyserver")")
  local edge_p keyserver_p origin_p demo_p
  edge_p=$(process "$edge_pid") keyserver_p=$(process "$keyserver_pid") origin_p=$(process "$origin_pid") demo_p=$(process "$demo_pid")
  echo "$t,$handshakes,$failed,${client_errors:-0},$edge_p,$heap_edge,$(sum dotnet_gc_collections_total 'gen2' <<<"$edge"),$keyserver_p,$heap_keyserver,$(sum dotnet_gc_collections_total 'gen2' <<<"$keyserver"),$origin_p,$demo_p,$(sum dotnet_exceptions_total <<<"$edge"),$(mb "${disk%,*}"),${disk#*,},$written,$(sum keyless_keyserver_audit_records_total <<<"$keyserver"),$(sum keyless_keyserver_audit_rotations_total <<<"$keyserver"),$(sum keyless_keyserver_audit_files_deleted_total <<<"$keyserver"),$(($(sum keyless_keyserver_audit_write_errors_total <<<"$keyserver") + $(sum keyless_keyserver_audit_withheld_total <<<"$keyserver")))" >>"$csv"
  local rate=0
  ((t > previous_t)) && rate=$(((handshakes - previous) / (t - previous_t)))
  printf '%6s %10s %6s %6s | %-20s | %-20s | %-14s | %-14s | %s %s %s\n' "$t" "$handshakes" "$rate" "$((failed + ${client_errors:-0}))" \
    "${edge_p//,/ } $heap_edge" "${keyserver_p//,/ } $heap_keyserver" "${origin_p//,/ }" "${demo_p//,/ }" "$(mb "${disk%,*}")" "${disk#*,}" "$written"
  previous=$handshakes previous_t=$t
}

sample 0
for ((k = 1; k * interval < duration; k++)); do
  wake=$((load_start + k * interval))
  while (($(date +%s) < wake)); do sleep 1; done
  for pid in $demo_pid $edge_pid $keyserver_pid $origin_pid; do
    kill -0 "$pid" 2>/dev/null || { echo "soak: process $pid exited during the soak" >&2; tail -30 "$out/demo.log" >&2; exit 1; }
  done
  sample $((k * interval))
done
# The last sample once every client has finished its last chunk (they stop at the load's end by themselves).
for pid in "${client_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
client_pids=()
sample "$duration"

# The verdict, from samples.csv.
awk -F, -v warmup="$warmup" -v clients="$clients" -v interval="$interval" \
  -v rss_floor="$rss_floor_mb" -v rss_rate="$rss_per_hour_mb" -v heap_floor="$heap_floor_mb" -v heap_rate="$heap_per_hour_mb" \
  -v fd_delta="$fd_delta" -v thread_delta="$thread_delta" -v max_failed_ppm="$max_failed_per_million" \
  -v disk_bound="$audit_disk_bound" -v retain="$audit_retain_bytes" '
  function window(column, from, lowest,   i, j, n, x, t) { # the lowest or the median of w samples from row "from"
    n = 0
    for (i = from; i < from + w; i++) { # insertion sort
      t = v[i, column] + 0
      for (j = n; j > 0 && x[j] > t; j--) x[j + 1] = x[j]
      x[j + 1] = t; n++
    }
    return lowest ? x[1] : x[int((n + 1) / 2)]
  }
  function slope(column,   i, n, st, sv, stt, stv, t) { # least squares over the samples after the warm-up, per hour
    for (i = base; i <= rows; i++) { t = v[i, "t_s"] / 3600; n++; st += t; sv += v[i, column]; stt += t * t; stv += t * v[i, column] }
    return (n * stt - st * st) == 0 ? 0 : (n * stv - st * sv) / (n * stt - st * st)
  }
  function check(label, column, floor, rate, unit, lowest,   start, end, growth, bound, per_hour, verdict) {
    start = window(column, base, lowest); end = window(column, rows - w + 1, lowest)
    growth = end - start; bound = floor + rate * hours; per_hour = slope(column)
    verdict = "ok"
    if (growth > bound) { verdict = "FAIL"; failures = failures "\n  " label " grew by " growth " " unit " (bound " bound ")" }
    if (long && rate > 0 && per_hour > rate) { verdict = "FAIL"; failures = failures "\n  " label " grew by " per_hour " " unit " an hour (bound " rate ")" }
    printf "  %-26s %10.1f %10.1f %+10.1f %10.1f %12.1f  %s\n", label, start, end, growth, bound, per_hour, verdict
  }
  NR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; next }
  { rows++; for (i = 1; i <= NF; i++) v[rows, name[i]] = $i }
  END {
    for (base = 1; base <= rows && v[base, "t_s"] < warmup; base++) ;
    w = int((rows - base + 1) / 4); if (w < 3) w = 3
    hours = ((v[rows, "t_s"] + v[rows - w + 1, "t_s"]) - (v[base, "t_s"] + v[base + w - 1, "t_s"])) / 2 / 3600
    long = v[rows, "t_s"] - v[base, "t_s"] >= 1800
    # Counted from the first sample: the readiness probe of the demo may fail before the key server has registered.
    handshakes = v[rows, "handshakes"] - v[1, "handshakes"]
    failed_edge = v[rows, "failed"] - v[1, "failed"]; failed = failed_edge + v[rows, "client_errors"]
    seconds = v[rows, "t_s"]
    printf "\nsoak: %d s, %d clients, %d samples every %d s (%d after the %d s warm-up)\n", seconds, clients, rows, interval, rows - base + 1, warmup
    printf "  handshakes: %d (%.0f/s), failed: %d edge outcomes + %d client errors\n", handshakes, handshakes / seconds, failed_edge, v[rows, "client_errors"]
    printf "  growth from t=%d-%d s to t=%d-%d s (%d samples each; memory: the lowest, counts: the median):\n", v[base, "t_s"], v[base + w - 1, "t_s"], v[rows - w + 1, "t_s"], v[rows, "t_s"], w
    printf "  %-26s %10s %10s %10s %10s %12s\n", "", "start", "end", "growth", "bound", long ? "slope /h" : "(slope /h)"
    split("edge keyserver origin demo", process, " ")
    for (p = 1; p <= 4; p++) {
      check(process[p] " RSS MB", process[p] "_rss_mb", rss_floor, rss_rate, "MB", 1)
      if (process[p] == "edge" || process[p] == "keyserver") check(process[p] " GC heap MB", process[p] "_heap_mb", heap_floor, heap_rate, "MB", 1)
      check(process[p] " descriptors", process[p] "_fds", fd_delta, 0, "", 0)
      check(process[p] " threads", process[p] "_threads", thread_delta, 0, "", 0)
    }
    for (i = 1; i <= rows; i++) if (v[i, "audit_disk_mb"] > disk_max) disk_max = v[i, "audit_disk_mb"]
    printf "  audit on disk: at most %.1f MB (bound %.1f MB: retention + 2 rotation sizes), %d files at the end\n", disk_max, disk_bound / 1048576, v[rows, "audit_files"]
    if (disk_max > disk_bound / 1048576) failures = failures "\n  audit files held " disk_max " MB on disk (bound " disk_bound / 1048576 " MB)"
    printf "  full (gen2) GCs during the run: edge %d, key server %d; exceptions thrown in the edge: %.2f a handshake\n", \
      v[rows, "edge_gen2_gcs"] - v[1, "edge_gen2_gcs"], v[rows, "keyserver_gen2_gcs"] - v[1, "keyserver_gen2_gcs"], \
      handshakes ? (v[rows, "edge_exceptions"] - v[1, "edge_exceptions"]) / handshakes : 0
    records = v[rows, "audit_records"]; written = v[rows, "audit_written_mb"]
    printf "  audit written: %.1f MB, %d records (%.0f B a record), %.0f B a handshake; %d rotations, %d files deleted by retention\n", \
      written, records, records ? written * 1048576 / records : 0, handshakes ? written * 1048576 / handshakes : 0, v[rows, "audit_rotations"], v[rows, "audit_deleted"]
    if (v[rows, "audit_errors"] > 0) failures = failures "\n  the audit log failed or withheld " v[rows, "audit_errors"] " records"
    # Rotated files compress to less than half (about a quarter): past 8 times retention, retention must have deleted.
    if (written > 8 * retain / 1048576 && v[rows, "audit_deleted"] == 0) failures = failures "\n  retention deleted no audit file"
    if (handshakes == 0 || failed * 1000000 > max_failed_ppm * handshakes)
      failures = failures "\n  " failed " of " handshakes " handshakes failed (bound " max_failed_ppm " per million)"
    for (i = base + 1; i <= rows; i++) if (v[i, "handshakes"] <= v[i - 1, "handshakes"])
      failures = failures "\n  no handshake between t=" v[i - 1, "t_s"] " s and t=" v[i, "t_s"] " s"
    if (failures != "") { print "\nsoak: FAIL" failures; exit 1 }
    print "\nsoak: PASS"
  }' "$csv"
