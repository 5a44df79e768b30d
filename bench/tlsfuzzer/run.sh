#!/usr/bin/env bash
# Runs tlsfuzzer's TLS 1.3 and TLS 1.2 scripts (the list in scripts.txt) against one server and keeps each script's
# output; compare.py then counts the conversations a reference server passes and this one fails (docs/conformance.md).
# Not a test: tlsfuzzer is fetched by hand (github.com/tlsfuzzer/tlsfuzzer and tlslite-ng; python3-ecdsa).
#   bench/tlsfuzzer/run.sh TLSFUZZER_DIR TLSLITE_DIR PORT OUT_DIR
# The server must answer a hello without SNI (the edge: Keyless__Edge__Tls__DefaultHostName=demo.localhost).
set -uo pipefail
fuzzer=$(realpath "$1"); tlslite=$(realpath "$2"); port=$3; out=$(realpath -m "$4")
list="$(dirname "$(realpath "$0")")/scripts.txt"
mkdir -p "$out"
cd "$fuzzer"
while read -r script; do
  [[ -z $script || $script == \#* || -f $out/$script.log ]] && continue
  # 400 s per script: a server that never answers costs tlsfuzzer's 5 s timeout per conversation.
  PYTHONPATH="$fuzzer:$tlslite" timeout 400 /usr/bin/python3 "scripts/$script" -h 127.0.0.1 -p "$port" > "$out/$script.tmp" 2>&1
  echo "rc=$?" >> "$out/$script.tmp"
  mv "$out/$script.tmp" "$out/$script.log"
done < "$list"
