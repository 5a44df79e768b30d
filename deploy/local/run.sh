#!/usr/bin/env bash
# The federated layout on one machine, each part its own process.
#   Operator side: redis-server (membership + registry storage) and two edge silos clustered through it, with mutual
#   TLS from an operator CA this script makes (`keyless ca init` / `cert issue`).
#   Tenant side: the demo tenant's key server as a cluster of its own, certified by the tenant's own CA; its gateway is
#   the one port the edges reach (as Orleans clients, over mutual TLS). It never talks to Redis or the edges' silos.
#   The operator step is real too: the tenant is added with `keyless tenant add --key-server ... --key-server-ca ...`,
#   with the operator's certificate. A plain-HTTP origin completes it.
#
#   deploy/local/run.sh            # Ctrl-C stops everything
#
# Environment: KEYLESS_LOCAL_STATE (default ./.keyless-local: keys, certificates, logs, pid files),
# KEYLESS_LOCAL_BASE_PORT (default 17000; uses base..base+12), KEYLESS_BIN (a built keyless.dll; default:
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
# The tenant's gateway: the one port the tenant opens to the operator's edges.
keyserver_gateway=$((base + 12))
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
# JIT tiering for a fast start, as every deployment sets it (docs/operations.md, "Start-up").
export DOTNET_TC_CallCountingDelayMs=0 DOTNET_TieredPGO_InstrumentOnlyHotCode=0

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

# The demo tenant's site keys (what browsers see), in data/keyserver/keys; data/ca.pem is their CA.
"${keyless[@]}" demo --prepare-only --data-dir "$state/data" --origin-port "$origin_port" --key-server-gateway-port "$keyserver_gateway"

# Cluster PKI, made once and reused by later runs. Each CA key stays in its own folder (mode 0600).
pki="$state/pki"
if [[ ! -f "$pki/operator-ca/ca-key.pem" ]]; then # the operator's CA: edges and operator tools
  rm -rf "$pki/operator-ca" "$pki/edge1" "$pki/edge2" "$pki/operator"
  "${keyless[@]}" ca init --dir "$pki/operator-ca" --name "KeylessOrleans local operator CA"
  "${keyless[@]}" cert issue --ca-dir "$pki/operator-ca" --role edge --name edge1 --out "$pki/edge1"
  "${keyless[@]}" cert issue --ca-dir "$pki/operator-ca" --role edge --name edge2 --out "$pki/edge2"
  "${keyless[@]}" cert issue --ca-dir "$pki/operator-ca" --role operator --name local-operator --out "$pki/operator"
fi
if [[ ! -f "$pki/tenant-ca/ca-key.pem" ]]; then # the tenant's own CA: its key servers only
  rm -rf "$pki/tenant-ca" "$pki/keyserver"
  "${keyless[@]}" ca init --dir "$pki/tenant-ca" --name "KeylessOrleans local demo tenant CA"
  "${keyless[@]}" cert issue --ca-dir "$pki/tenant-ca" --role onprem --tenant demo --replica primary --out "$pki/keyserver"
fi
# What each side gives the other: the operator's CA to the tenant (edges allowed at its gateway), the tenant's CA to
# the operator (recorded with the tenant, checked by edges). Never a CA key.
operator_ca="$pki/operator-ca/ca.pem" tenant_ca="$pki/tenant-ca/ca.pem"
tls() { local folder=$1 authority=$2; tls_args=(--tls-cert "$pki/$folder/cert.pem" --tls-key "$pki/$folder/key.pem" --tls-ca "$authority"); }
tls edge1 "$operator_ca" && edge1_tls=("${tls_args[@]}")
tls edge2 "$operator_ca" && edge2_tls=("${tls_args[@]}")
tls operator "$operator_ca" && operator_tls=("${tls_args[@]}")
tls keyserver "$tenant_ca" && keyserver_tls=("${tls_args[@]}")
cluster=(--clustering redis --redis "127.0.0.1:$redis_port" --advertise 127.0.0.1)

rm -rf "$state/redis" && mkdir -p "$state/redis" # each run starts a fresh cluster
# Append-only file, as in compose/k8s: a restarted Redis brings back membership and the registry.
start redis redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state/redis" --save "" --appendonly yes
start origin "${keyless[@]}" origin --listen "127.0.0.1:$origin_port"
start edge1 "${keyless[@]}" edge "${cluster[@]}" --silo-port "$edge1_silo" --gateway-port "$edge1_gateway" --https-port "$edge1_https" --edge-id edge1 --admin-port "$edge1_admin" \
  "${edge1_tls[@]}"
start edge2 "${keyless[@]}" edge "${cluster[@]}" --silo-port "$edge2_silo" --gateway-port "$edge2_gateway" --https-port "$edge2_https" --edge-id edge2 --admin-port "$edge2_admin" \
  "${edge2_tls[@]}"
# The tenant's own cluster (localhost clustering: cluster id tenant-demo); edges certified by --edge-ca may use its gateway.
start keyserver "${keyless[@]}" keyserver --tenant demo --keys "$state/data/keyserver/keys" --silo-port "$keyserver_silo" --gateway-port "$keyserver_gateway" \
  --admin-port "$keyserver_admin" --audit-log "$state/data/keyserver/audit.log" "${keyserver_tls[@]}" --edge-ca "$operator_ca"

# The operator adds the tenant: names, origin, where its key server's gateway is and the CA that certifies it.
# Retried while the cluster is still forming (bounded: 60 tries).
for attempt in $(seq 1 60); do
  "${keyless[@]}" tenant add demo --host demo.localhost --host '*.demo.localhost' --origin "127.0.0.1:$origin_port" \
    --key-server "primary=127.0.0.1:$keyserver_gateway" --key-server-ca "$tenant_ca" \
    --clustering redis --redis "127.0.0.1:$redis_port" "${operator_tls[@]}" && break
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
echo "  tenant demo: its key server is a cluster of its own, gateway 127.0.0.1:$keyserver_gateway (mutual TLS, tenant CA $tenant_ca)"
echo "  curl --cacert $state/data/ca.pem --resolve demo.localhost:$edge1_https:127.0.0.1 https://demo.localhost:$edge1_https/"
echo "  admin (metrics, healthz, readyz): edge1 http://127.0.0.1:$edge1_admin/ edge2 http://127.0.0.1:$edge2_admin/ keyserver http://127.0.0.1:$keyserver_admin/"
echo "  ${keyless[*]} tenant list --clustering redis --redis 127.0.0.1:$redis_port ${operator_tls[*]}"
echo "logs and pid files: $state; Ctrl-C stops everything"
while true; do sleep 1; done
