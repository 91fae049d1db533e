# Sourced by scripts/test. ensure_chromium exports BROKER_CHROMIUM, the
# browser broker/browser_test.go drives: the one given, else Chromium on
# PATH, else Debian's chromium package, installed here. The test fails
# under CI=true without a browser, so a CI run never skips it silently.

ensure_chromium() {
  if [ -n "${BROKER_CHROMIUM:-}" ]; then return 0; fi
  local name
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      BROKER_CHROMIUM=$(command -v "$name"); export BROKER_CHROMIUM
      return 0
    fi
  done
  echo "installing Debian's chromium package for the browser test"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
  BROKER_CHROMIUM=$(command -v chromium); export BROKER_CHROMIUM
}
