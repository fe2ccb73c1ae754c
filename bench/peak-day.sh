#!/usr/bin/env bash
# Peak days replayed on one machine (load-tests/src/scenario): "rentrée morning" (parents
# with a session browse while newcomers log in; the arrival rate ramps tenfold in a minute,
# logins run ten times over the provider's admission rate) and "token spray" (random
# invalid bearer tokens and key ids at an API route while parents browse). Vigie has one
# worker pinned to PROXY_CPU; the load generator, the upstream and the development
# FranceConnect share LOAD_CPU.
#
#   bench/peak-day.sh            # both scenarios; rewrites their sections of bench/RESULTS.md
#   SCENARIOS=rentree bench/peak-day.sh
#
# Needs: taskset, a release build (made here).
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=${SCENARIOS:-"rentree spray"}
RENTREE_ARGS=${RENTREE_ARGS:-"--base-rate 100 --calm 10 --ramp 60 --hold 20 --sessions 1000"}
SPRAY_ARGS=${SPRAY_ARGS:-"--browse-rate 200 --spray-rate 1000 --calm 10 --spray 20 --sessions 1000"}

# shellcheck source=bench/settings.sh
. bench/settings.sh
need taskset
cargo build --release -q -p vigie --bin vigie -p vigie-load-tests --bin scenario
TARGET=${CARGO_TARGET_DIR:-target}/release

for scenario in $SCENARIOS; do
  case $scenario in
    rentree) args=$RENTREE_ARGS ;;
    spray) args=$SPRAY_ARGS ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  report=$(taskset -c "$LOAD_CPU" "$TARGET/scenario" "$scenario" --vigie "$TARGET/vigie" \
    --cpus "$PROXY_CPU" --threads 1 $args)
  echo "$report"
  if [ "$WRITE_RESULTS" = 1 ]; then
    {
      echo "$report" | head -1
      echo
      echo "$(date -u +%Y-%m-%d), \`bench/peak-day.sh\` ($scenario $args), Vigie pinned to CPU $PROXY_CPU with one worker, the load on CPU $LOAD_CPU."
      echo "$report" | tail -n +2
    } | write_section "peak-$scenario"
  fi
done
