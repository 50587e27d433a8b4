#!/usr/bin/env bash
# Runs Rabta's whole test suite. Works as root on a fresh Debian machine with only Go:
# it installs what the tests need from Debian's packages and starts any server they need on
# loopback ports of its own. Usage: scripts/test.sh [extra go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the tests use. Each is only installed when missing.
#   gcc               — cgo, needed by the race detector (-race)
#   mosquitto-clients — mosquitto_pub / mosquitto_sub, real MQTT clients for the MQTT tests
#   libxml2-utils     — xmllint, validates CAP XML against the OASIS schema
#   kannel, kannel-extras — bearerbox and smsbox, the real SMS gateway, and its fake SMSC
#                       (fakesmsc) as the operator side, for the Kannel channel's tests
#   nodejs, npm       — node runs scripts/smsc/server.js, an SMPP server built on the npm smpp
#                       package, the SMSC the SMPP channel's tests talk to
#   openssl           — runs the partner's webhook verification recipe of docs/webhooks.md
#   espeak-ng, sox    — voice alerts: espeak-ng speaks each alert's text, sox converts and joins
#                       the audio and measures it in the tests (duration, not silent)
#   chromium          — Debian's headless Chromium, driven by chromedp in the browser tests
#                       (internal/web/webtest: the public page without JavaScript, its weight,
#                       axe-core's accessibility checks, screenshots)
#   fonts-noto-core   — Noto Nastaliq Urdu and Noto Naskh Arabic (and Latin), so that the Urdu
#                       pages render, and are screenshot, in a proper Nastaliq / Naskh face
#   fonts-noto-cjk    — Noto Sans/Serif CJK SC, for the Chinese pages
need_pkgs=()
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
command -v mosquitto_pub >/dev/null 2>&1 || need_pkgs+=(mosquitto-clients)
command -v xmllint >/dev/null 2>&1 || need_pkgs+=(libxml2-utils)
[ -x /usr/sbin/bearerbox ] || need_pkgs+=(kannel)
[ -x /usr/lib/kannel/test/fakesmsc ] || need_pkgs+=(kannel-extras)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need_pkgs+=(sox)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
[ -f /usr/share/fonts/truetype/noto/NotoNastaliqUrdu-Regular.ttf ] || need_pkgs+=(fonts-noto-core)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || need_pkgs+=(fonts-noto-cjk)
if ((${#need_pkgs[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    log "missing packages ${need_pkgs[*]}: install them (as root: apt-get install ${need_pkgs[*]})"
    exit 1
  fi
fi

command -v go >/dev/null 2>&1 || { log "Go is not installed (https://go.dev/dl/)"; exit 1; }

log "installing the test SMSC's npm packages (scripts/smsc, pinned by its package-lock.json)"
(cd scripts/smsc && npm ci --no-audit --no-fund --loglevel=error)

log "starting a PostgreSQL (with PostGIS) of the tests' own on a loopback port"
eval "$(bash scripts/postgres.sh start)"
trap 'bash scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT

log "go vet"
go vet ./...

# the browser tests' screenshots are kept here, for people to look at (internal/web/webtest)
export RABTA_ARTEFACTS="${RABTA_ARTEFACTS:-${TMPDIR:-/tmp}/rabta-artefacts}"
log "screenshots of the browser tests go to $RABTA_ARTEFACTS"

log "go test -race (the fuzz targets run their seed corpora)"
# -p 2: this suite is sized for a 2-core machine; the end-to-end tests start real processes.
go test -race -count=1 -p 2 -timeout 20m "$@" ./...

log "end-to-end tests again, every node on PostgreSQL"
# Without -race: the pass above ran every test and every node process under the race detector
# (and the PostgreSQL store's own tests run under it in internal/store/postgres and
# internal/node); this pass is about the store engine, and under -race it alone took some six
# minutes of the twenty this suite may take. -parallel 4: without the race detector its
# end-to-end tests (t.Parallel) spend most of their time waiting on the nodes they start, so
# four at once keep two cores busy (148 s here against 179 s with the default of two).
RABTA_E2E_POSTGRES=1 go test -count=1 -parallel 4 -timeout 20m "$@" ./cmd/rabta
