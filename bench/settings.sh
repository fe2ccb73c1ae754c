# Defaults shared by the side-by-side scripts (override any from the environment), and the
# tool check. Sourced first, before bench/lib.sh.
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WRITE_RESULTS=${WRITE_RESULTS:-1}
UPSTREAM=127.0.0.1:18080
VIGIE=127.0.0.1:18083
VIGIE_ADMIN=127.0.0.1:18093

need() { # tool...
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)" >&2; exit 1; }
  done
}
