#!/usr/bin/env bash
# Værn's two commands:   ./manage.sh run    — set up and run Værn with the demo organisation
#                        ./manage.sh test   — set up and run the whole test suite
# and the fast one:      ./manage.sh unit   — only tests/unit (no browser, no network), while you work
# Both create .venv, install Værn, make sure a Chromium and fonts (Danish letters, emoji) exist.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
APT_UPDATED=
apt_install() {
  is_root && command -v apt-get >/dev/null || return 1
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pick_python() {
  for py in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$py" ] && command -v "$py" >/dev/null || continue
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo "$py"; return; fi
  done
  echo "Værn needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 2
}

setup_venv() {
  local extras=$1 py stamp
  py=$(pick_python)
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $py"
    if ! "$py" -m venv .venv 2>/dev/null; then
      rm -rf .venv
      say "installing python3-venv"; apt_install python3-venv || { echo "install python3-venv first" >&2; exit 2; }
      "$py" -m venv .venv
    fi
  fi
  stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$extras"
  if [ ! -e "$stamp" ]; then
    say "installing Værn and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".$extras"
    rm -f .venv/.installed-*; touch "$stamp"
  fi
}

ensure_chromium() {
  # 1. Playwright's own browser, 2. the system Chromium, 3. apt-get (root), 4. playwright install
  if ls "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium-*/chrome-linux*/chrome >/dev/null 2>&1; then return; fi
  if [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return; fi
  say "installing Chromium"
  if apt_install chromium; then return; fi
  .venv/bin/python -m playwright install chromium
}

ensure_fonts() {
  local families=""
  command -v fc-list >/dev/null && families=$(fc-list : family)
  case "$families" in *"Noto Color Emoji"*) case "$families" in *"Noto Sans"*) return ;; esac ;; esac
  say "installing fonts (Danish letters, emoji)"
  apt_install fonts-noto-core fonts-noto-color-emoji fonts-dejavu-core fontconfig \
    || echo "warning: could not install fonts; screenshots may miss emoji (install fonts-noto-color-emoji)" >&2
}

ensure_ocr() {  # text in uploaded pictures, Danish and English (capture/ocr.py); uploads work without it
  if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx dan; then return; fi
  say "installing Tesseract OCR (Danish and English)"
  apt_install tesseract-ocr tesseract-ocr-dan tesseract-ocr-eng \
    || echo "warning: could not install tesseract-ocr; text in uploaded pictures is not read" >&2
}

ensure_tools() {  # the tests run a local time-stamping authority with openssl
  command -v openssl >/dev/null || apt_install openssl || echo "warning: openssl missing; timestamp tests will skip" >&2
}

case "${1:-}" in
  run)
    shift; setup_venv ""; ensure_chromium; ensure_fonts; ensure_ocr
    exec .venv/bin/vaern demo "$@" ;;
  test)
    shift; setup_venv "[test]"; ensure_chromium; ensure_fonts; ensure_tools; ensure_ocr
    exec .venv/bin/python -m pytest "$@" ;;
  unit)  # needs no Chromium, fonts or programs: tests/unit/conftest.py refuses them
    shift; setup_venv "[test]"
    exec .venv/bin/python -m pytest tests/unit "$@" ;;
  *)
    echo "usage: ./manage.sh run [--host H --port P] | ./manage.sh test [pytest args] | ./manage.sh unit [pytest args]" >&2
    exit 2 ;;
esac
