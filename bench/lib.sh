# Shared by the side-by-side benchmark scripts: a work folder, the shared tiny upstream
# (nginx answering "ok" and serving files from $work/www), waiting, CPU accounting, wrk runs
# and medians. Sourced, not run. Expects UPSTREAM, LOAD_CPU, PROXY_CPU, CONNS, DURATION.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

wait_for() { # url   (READY_ANY=1: any HTTP answer will do, not only 2xx)
  local fail=-f
  [ "${READY_ANY:-0}" = 1 ] && fail=
  for _ in $(seq 1 200); do curl $fail -sS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2; return 1
}

# --- the shared tiny upstream ---------------------------------------------------------
mkdir -p "$work/up" "$work/nginx" "$work/www"
# nginx workers run unprivileged: they must be able to read what the upstream serves.
chmod 755 "$work" "$work/www"
cat > "$work/up/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $work/up/error.log warn;
pid $work/up/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen $UPSTREAM reuseport; location / { return 200 "ok\n"; } location /www/ { alias $work/www/; } }
}
CONF
taskset -c "$LOAD_CPU" nginx -c "$work/up/nginx.conf" -p "$work/up" & pids+=($!)
wait_for "http://$UPSTREAM/"

# user+system clock ticks of a process and its children
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}

# wrk against url → "req/s p50_ms p99_ms cpu_us_per_request non_2xx". Options before the url
# come as arguments and in WRK_OPTS (an array); WRK_AFTER goes after it (a Lua script's arguments).
measure() { # pid url extra-wrk-args...
  local pid=$1 url=$2; shift 2
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s "${WRK_OPTS[@]}" "$@" "$url" "${WRK_AFTER[@]}" >/dev/null 2>&1 || true  # warm-up
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${WRK_OPTS[@]}" "$@" "$url" "${WRK_AFTER[@]}")
  t1=$(cpu_ticks "$pid")
  echo "$out" | awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec:/ { rps = $2 }
    / requests in / { n = $1 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.3f %.3f %.1f %d\n", rps, p50, p99, (n ? ticks * 1000000 / hz / n : 0), bad; if (bad) print "non-2xx: " bad > "/dev/stderr" }'
}
WRK_OPTS=()
WRK_AFTER=()
MODES=${MODES:-"keep-alive new-connection"}

results=()
run_proxy() { # name url start-command...   (READY_URL: what must answer first; default url/;
  local name=$1 url=$2; shift 2              #  PREPARE: a command run once ready, before measuring)
  taskset -c "$PROXY_CPU" "$@" > "$work/$name.log" 2>&1 & local pid=$!
  pids+=($pid)
  wait_for "${READY_URL:-$url/}"
  if [ -n "${PREPARE:-}" ]; then eval "$PREPARE"; fi
  for mode in $MODES; do
    case $mode in
      keep-alive) results+=("$name keep-alive $(measure "$pid" "$url/")") ;;
      new-connection) results+=("$name new-connection $(measure "$pid" "$url/" -H "Connection: close")") ;;
    esac
  done
  stop "$pid"
}

# Stops a proxy with STOP_SIGNAL (INT by default: background jobs of a script ignore SIGINT,
# so proxies that do not install their own handler need TERM), then KILL after 10 s.
stop() { # pid
  kill -"${STOP_SIGNAL:-INT}" "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

median() { # name mode → the result line of the median round (by req/s)
  printf '%s\n' "${results[@]}" | awk -v n="$1" -v m="$2" '$1 == n && $2 == m' | sort -k3,3n \
    | awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }'
}
rps() { median "$1" "$2" | awk '{ print $3 }'; }

# Writes an Envoy config to FILE: a listener on ENVOY, the admin on ENVOY_ADMIN, the upstream
# as cluster `up`, and the HTTP filters given on stdin (YAML list items, indented by 10
# spaces) before the router.
envoy_config() { # file
  local filters
  filters=$(cat)
  cat > "$1" <<CONF
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
$filters
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: up
    type: STATIC
    load_assignment:
      cluster_name: up
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UPSTREAM##*:} } } } }] }]
CONF
}
