#!/usr/bin/env bash
# The test command (README, and CI through .ci/run): installs what the tests need — Debian
# packages for the real servers, .venv with .[dev] — then runs ruff, mypy --strict and pytest.
# Extra arguments go to pytest (e.g. -k mqtt).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
have() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have mosquitto || missing+=(mosquitto)
have mosquitto_pub || missing+=(mosquitto-clients)
have influxd || missing+=(influxdb)
have victoria-metrics || missing+=(victoria-metrics)
have socat || missing+=(socat)
have systemd-analyze || missing+=(systemd)  # verifies deploy/systemd/ (tests/deploy)
have chromium || missing+=(chromium)  # the IOC board's browser tests (Playwright drives it)
# The reports' tests render the PDF (pdftoppm) and read its text back (pdftotext); the PDF
# embeds DejaVu (Vietnamese glyphs) from the system's fonts.
have pdftoppm || missing+=(poppler-utils)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  # policy-rc.d or no systemd: the packages must not start their services; tests start
  # their own servers on free ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

. scripts/env.sh
quantrac_venv "[dev]"

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
