#!/usr/bin/env bash
# Installs the system libraries Qt needs, only those that are missing.
# Usage: tools/setup-system.sh offscreen|display|venv
# Checks by library file, not package name (Debian 13 renames some packages).
set -euo pipefail
mode=${1:-offscreen}

# library file -> Debian package
offscreen=(
  "libGL.so.1:libgl1" "libEGL.so.1:libegl1" "libglib-2.0.so.0:libglib2.0-0"
  "libfontconfig.so.1:libfontconfig1" "libxkbcommon.so.0:libxkbcommon0"
  "libdbus-1.so.3:libdbus-1-3"
)
display=(
  "libX11-xcb.so.1:libx11-xcb1" "libxkbcommon-x11.so.0:libxkbcommon-x11-0"
  "libxcb-cursor.so.0:libxcb-cursor0" "libxcb-icccm.so.4:libxcb-icccm4"
  "libxcb-keysyms.so.1:libxcb-keysyms1" "libxcb-image.so.0:libxcb-image0"
  "libxcb-render-util.so.0:libxcb-render-util0" "libxcb-shape.so.0:libxcb-shape0"
  "libxcb-randr.so.0:libxcb-randr0" "libxcb-xkb.so.1:libxcb-xkb1"
)
wanted=("${offscreen[@]}")
[ "$mode" = display ] && wanted+=("${display[@]}")
[ "$mode" = venv ] && wanted=()

missing=()
# Debian's python3 ships without venv/ensurepip until python3-venv is installed.
if [ "$mode" = venv ] && ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  missing+=("python3-venv")
fi
for entry in "${wanted[@]}"; do
  lib=${entry%%:*}; pkg=${entry##*:}
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing+=("$pkg")
done
if [ "$mode" != venv ] && ! fc-list 2>/dev/null | grep -q .; then
  missing+=("fonts-dejavu-core")
fi
if [ "$mode" = display ]; then
  command -v xvfb-run >/dev/null || missing+=("xvfb" "xauth")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "murphy: installing system libraries for Qt: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "murphy: not root and no sudo; please install: ${missing[*]}" >&2; exit 1
  fi
else SUDO=""; fi
resolved=()
$SUDO apt-get update -qq
for pkg in "${missing[@]}"; do
  # Debian 13 renamed some libraries with a t64 suffix.
  if apt-cache show "$pkg" >/dev/null 2>&1; then resolved+=("$pkg")
  elif apt-cache show "${pkg}t64" >/dev/null 2>&1; then resolved+=("${pkg}t64")
  else resolved+=("$pkg"); fi
done
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${resolved[@]}"
