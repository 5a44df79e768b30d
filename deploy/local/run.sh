#!/usr/bin/env bash
# The multi-host layout on one machine, each part its own process: redis-server (membership + registry
# storage), the demo tenant's key server, two edge silos and a plain-HTTP origin, clustered through Redis.
# The operator step is real too: the tenant is added with `keyless tenant add`.
#
#   deploy/local/run.sh            # Ctrl-C stops everything
#
# Environment: KEYLESS_LOCAL_STATE (default ./.keyless-local: keys, logs, pid files),
# KEYLESS_LOCAL_BASE_PORT (default 17000; uses base..base+11), KEYLESS_BIN (a built keyless.dll; default:
# build src/KeylessOrleans.Cli into the state folder).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
state="$(mkdir -p "${KEYLESS_LOCAL_STATE:-$repo/.keyless-local}" && cd "${KEYLESS_LOCAL_STATE:-$repo/.keyless-local}" && pwd)"
base="${KEYLESS_LOCAL_BASE_PORT:-17000}"
redis_port=$base
edge1_silo=$((base + 1)) edge1_gateway=$((base + 2)) edge1_https=$((base + 3))
edge2_silo=$((base + 4)) edge2_gateway=$((base + 5)) edge2_https=$((base + 6))
keyserver_silo=$((base + 7)) origin_port=$((base + 8))
# Admin endpoints (/metrics, /healthz, /readyz): each process its own, since the role defaults would collide here.
edge1_admin=$((base + 9)) edge2_admin=$((base + 10)) keyserver_admin=$((base + 11))
mkdir -p "$state/pids" "$state/logs"

# What this layout needs from the system.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ -n "${KEYLESS_BIN:-}" ]]; then
  keyless=(dotnet "$KEYLESS_BIN")
else
  dotnet build "$repo/src/KeylessOrleans.Cli" -c Release -o "$state/bin" -nologo -clp:ErrorsOnly
  keyless=(dotnet "$state/bin/keyless.dll")
fi

pids=()
start() { # name command...: runs in the background, logs to logs/NAME.log, records pids/NAME.pid
  local name=$1; shift
  "$@" >"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name.pid"
  pids+=($!)
  echo "started $name (pid $!)"
}
stop_all() { # newest first, one at a time: silos leave the cluster while Redis is still there
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || continue
    for _ in $(seq 1 200); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  echo "local deployment stopped"
}
trap stop_all EXIT
trap 'exit 0' INT TERM

"${keyless[@]}" demo --prepare-only --data-dir "$state/data" --origin-port "$origin_port"
cluster=(--clustering redis --redis "127.0.0.1:$redis_port" --advertise 127.0.0.1)
# Every silo on this one machine, on loopback, without cluster TLS: multi-host clustering refuses that unless told.
# Across machines use mutual TLS (--tls-cert/--tls-key/--tls-ca), as deploy/compose, k8s and systemd do.
export KEYLESS__CLUSTER__ALLOWPLAINTEXTMULTIHOST=true

rm -rf "$state/redis" && mkdir -p "$state/redis" # each run starts a fresh cluster
# Append-only file, as in compose/k8s: a restarted Redis brings back membership and the registry.
start redis redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --save "" --appendonly yes
start origin "${keyless[@]}" origin --listen "127.0.0.1:$origin_port"
start edge1 "${keyless[@]}" edge "${cluster[@]}" --silo-port "$edge1_silo" --gateway-port "$edge1_gateway" --https-port "$edge1_https" --edge-id edge1 --admin-port "$edge1_admin"
start edge2 "${keyless[@]}" edge "${cluster[@]}" --silo-port "$edge2_silo" --gateway-port "$edge2_gateway" --https-port "$edge2_https" --edge-id edge2 --admin-port "$edge2_admin"
start keyserver "${keyless[@]}" keyserver --shared-cluster "${cluster[@]}" --tenant demo --keys "$state/data/keyserver/keys" --silo-port "$keyserver_silo" --admin-port "$keyserver_admin" \
  --audit-log "$state/data/keyserver/audit.log"

# The operator adds the tenant; retried while the cluster is still forming (bounded: 60 tries).
for attempt in $(seq 1 60); do
  "${keyless[@]}" tenant add demo --host demo.localhost --host '*.demo.localhost' --origin "127.0.0.1:$origin_port" \
    --clustering redis --redis "127.0.0.1:$redis_port" && break
  [[ $attempt -eq 60 ]] && { echo "the cluster never accepted the tenant" >&2; exit 1; }
  sleep 1
done

for port in "$edge1_https" "$edge2_https"; do
  for attempt in $(seq 1 240); do
    curl -sf --cacert "$state/data/ca.pem" --resolve "demo.localhost:$port:127.0.0.1" "https://demo.localhost:$port/" >/dev/null && break
    [[ $attempt -eq 240 ]] && { echo "edge on port $port never served" >&2; exit 1; }
    sleep 0.5
  done
done

echo
echo "local deployment ready: edges on https://demo.localhost:$edge1_https/ and https://demo.localhost:$edge2_https/ (redis 127.0.0.1:$redis_port)"
echo "  curl --cacert $state/data/ca.pem --resolve demo.localhost:$edge1_https:127.0.0.1 https://demo.localhost:$edge1_https/"
echo "  admin (metrics, healthz, readyz): edge1 http://127.0.0.1:$edge1_admin/ edge2 http://127.0.0.1:$edge2_admin/ keyserver http://127.0.0.1:$keyserver_admin/"
echo "  ${keyless[*]} tenant list --clustering redis --redis 127.0.0.1:$redis_port"
echo "logs and pid files: $state; Ctrl-C stops everything"
while true; do sleep 1; done
