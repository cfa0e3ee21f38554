#!/usr/bin/env bash
# Installs the Debian packages the app and its tests need, only those that are missing.
# WeasyPrint needs Pango; report tests render PDF pages with pdftoppm; the PDF embeds DejaVu/Noto fonts
# (full Vietnamese coverage); browser tests drive Debian's Chromium; QR tests decode codes with zbarimg;
# tests/survey/test_postgresql.py starts a throw-away PostgreSQL server from the postgresql package;
# npm installs the browser tests' pinned axe-core (`make browser-deps`).
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 poppler-utils fonts-dejavu-core fonts-noto-core chromium zbar-tools
          postgresql redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Some machines have npm from another Node.js package; Debian's npm is needed only without one.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
