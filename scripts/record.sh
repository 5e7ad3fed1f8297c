#!/usr/bin/env bash
# Re-record cassettes.  `make record [TARGET=local|reference|featherless|arli-proxy|aiart|vllm]`,
# `make record-live`.
#
#   local        (default) every target served by the local reference server, in turn:
#                reference, featherless, arli-proxy, aiart
#   reference    start tests/reference_server on 127.0.0.1 and re-record every
#                cassette test marked recorded_against("reference")
#   featherless  the same with the server in Featherless mode (recorded_against("featherless"))
#   arli-proxy   the server in keyless-proxy mode (no key; tests add /api to the base URL):
#                the modules marked recorded_against("arli-proxy")
#   aiart        the server extended with AiArt's routes (keyless): the modules marked
#                recorded_against("aiart")
#   vllm         start the live vLLM server (scripts/live) and re-record the tests marked
#                recorded_against("vllm")
#   live-service re-record the tests marked recorded_against("arli") against
#                https://api.arliai.com (needs ARLIAI_API_KEY; this reaches the internet)
#
# Extra arguments go to pytest (e.g. `scripts/record.sh reference -k demo`).
# Cassettes are written with every auth header replaced; the test suite scans them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
target="${1:-local}"
shift || true

if [[ "$target" == local ]]; then
    for each in reference featherless arli-proxy aiart; do
        echo "== recording the $each cassettes"
        "$0" "$each" "$@"
    done
    exit 0
fi

pytest_args=(-o addopts="" -p no:cacheprovider --strict-markers -q -m recorded_against
    --record-mode=rewrite)
local_only=(--block-network --allowed-hosts=127.0.0.1,localhost)

case "$target" in
reference | featherless | arli-proxy | aiart)
    provider=arli
    [[ "$target" != reference ]] && provider="$target"
    server_args=(--provider "$provider")
    # The keyless systems get no key (their tests must not send one).
    [[ "$target" == reference || "$target" == featherless ]] && server_args+=(--api-key test-key)
    port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "$py" -m tests.reference_server --host 127.0.0.1 --port "$port" "${server_args[@]}" &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
    # Ready once it answers anything (the keyless modes have no /health route).
    for _ in $(seq 100); do
        "$py" -c "import httpx; httpx.get('http://127.0.0.1:$port/health')" 2>/dev/null && break
        sleep 0.1
    done
    ARLI_RECORD_TARGET="$target" ARLI_RECORD_BASE_URL="http://127.0.0.1:$port" \
        ARLI_RECORD_API_KEY=test-key \
        "$root/.venv/bin/pytest" "${pytest_args[@]}" "${local_only[@]}" tests "$@"
    ;;
vllm)
    # shellcheck disable=SC2016
    "$here/live/with_server.sh" env ARLI_RECORD_TARGET=vllm \
        bash -c 'ARLI_RECORD_BASE_URL="$ARLI_LIVE_BASE_URL" ARLI_RECORD_MODEL="$ARLI_LIVE_MODEL" exec "$0" "$@"' \
        "$root/.venv/bin/pytest" "${pytest_args[@]}" "${local_only[@]}" tests "$@"
    ;;
live-service)
    : "${ARLIAI_API_KEY:?set ARLIAI_API_KEY to record against the real service}"
    ARLI_RECORD_TARGET=arli ARLI_RECORD_BASE_URL="${ARLI_BASE_URL:-https://api.arliai.com}" \
        ARLI_RECORD_API_KEY="$ARLIAI_API_KEY" \
        "$root/.venv/bin/pytest" "${pytest_args[@]}" tests "$@"
    ;;
*)
    echo "usage: $0 [local|reference|featherless|arli-proxy|aiart|vllm|live-service] [pytest args...]" >&2
    exit 2
    ;;
esac
