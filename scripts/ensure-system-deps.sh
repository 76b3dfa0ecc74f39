#!/usr/bin/env bash
# Installs what Tapline's dev/test environment needs from outside npm, then its npm packages.
# The test harness (tools/devenv) runs redis-server and clickhouse-server as child
# processes, so a fresh Debian machine needs those binaries; nothing else installs them.
# The script is idempotent: it installs only what is missing, runs `apt-get update` at most
# once, stops any system service that a fresh package install started (the harness runs its
# own servers, and a system Redis would sit on port 6379), and runs `npm install` (locked versions) only when
# node_modules is missing or older than package-lock.json. It prints what it did.

set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

log() {
  echo "ensure-system-deps: $*"
}

# True when the named command is on PATH and executable (bash's `command -v` alone also
# reports a file that is not executable).
have_command() {
  local found
  found="$(command -v "$1" 2>/dev/null)" && [ -x "$found" ]
}

have_redis() {
  have_command redis-server || [ -x /usr/bin/redis-server ]
}

# Debian installs clickhouse-server into /usr/sbin, which is not on an ordinary user's PATH;
# ClickHouse's own packages ship a single /usr/bin/clickhouse binary instead.
have_clickhouse() {
  have_command clickhouse-server || [ -x /usr/sbin/clickhouse-server ] || have_command clickhouse
}

package_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

if have_redis && have_clickhouse; then
  log "redis-server and clickhouse-server are present; no system packages installed"
else
  packages=(redis-server clickhouse-server clickhouse-client)
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo_cmd=(sudo)
    else
      echo "ensure-system-deps: redis-server or clickhouse-server is missing, and installing them needs root;" >&2
      echo "ensure-system-deps: this user is not root and sudo is not available. As root, run:" >&2
      echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${packages[*]}" >&2
      exit 1
    fi
  fi

  # Remember which packages were absent, so that only services started by this install are stopped.
  newly_installed=()
  for package in "${packages[@]}"; do
    if ! package_installed "$package"; then
      newly_installed+=("$package")
    fi
  done

  log "installing ${packages[*]} with apt-get"
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"

  # A package's postinst may start its system service; the harness needs none of them running.
  for package in "${newly_installed[@]}"; do
    case "$package" in
      redis-server | clickhouse-server)
        if command -v service >/dev/null 2>&1; then
          log "stopping the $package system service that the install may have started"
          "${sudo_cmd[@]}" service "$package" stop || true
        else
          log "no 'service' command; if the install started a system $package, stop it by hand"
        fi
        ;;
    esac
  done

  if ! have_redis || ! have_clickhouse; then
    echo "ensure-system-deps: installation finished but redis-server or clickhouse-server is still missing" >&2
    exit 1
  fi
  log "installed: ${packages[*]}"
fi

# The replicated set-ups the tests start (tools/devenv/redis-ha.ts, clickhouse-cluster.ts): Redis
# Sentinel (the redis-server binary runs it; the package is what an operator installs) and
# ZooKeeper, which replicated ClickHouse 18.16 coordinates through. Each is installed only when
# missing, and a system service the install started is stopped: the harness runs its own.
ha_packages=()
package_installed redis-sentinel || ha_packages+=(redis-sentinel)
[ -f /usr/share/java/zookeeper.jar ] || ha_packages+=(zookeeper)
[ -f /usr/share/java/slf4j-simple.jar ] || ha_packages+=(libslf4j-java)
if [ ${#ha_packages[@]} -gt 0 ]; then
  ha_sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      ha_sudo=(sudo)
    else
      echo "ensure-system-deps: ${ha_packages[*]} missing and this user cannot install them; the Sentinel and ClickHouse cluster tests fail without them" >&2
      ha_packages=()
    fi
  fi
  if [ ${#ha_packages[@]} -gt 0 ]; then
    log "installing ${ha_packages[*]} with apt-get"
    "${ha_sudo[@]}" apt-get update
    "${ha_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${ha_packages[@]}"
    for service in redis-sentinel zookeeper; do
      if command -v service >/dev/null 2>&1; then "${ha_sudo[@]}" service "$service" stop >/dev/null 2>&1 || true; fi
    done
  fi
else
  log "redis-sentinel, zookeeper and slf4j are present"
fi

# Tools the tests use beside the servers: Go and Helm's template library sprig (the chart test
# builds tools/chart-render and renders the chart as Helm does), and Python's protobuf (the
# reflection test loads the served descriptors in an independent protobuf runtime), xmllint
# (libxml2-utils: the bank-file tests validate SEPA XML against its XSD) and pdftotext
# (poppler-utils: the fleet billing test reads the invoice and statement PDFs back), and Chromium
# (the portal's browser tests drive Debian's /usr/bin/chromium through puppeteer-core, whose own
# browser download is not used). Each is installed only when missing.
tool_packages=()
have_command go || tool_packages+=(golang-go)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || tool_packages+=(golang-github-masterminds-sprig-dev)
[ -d /usr/share/gocode/src/gopkg.in/yaml.v2 ] || tool_packages+=(golang-gopkg-yaml.v2-dev)
[ -d /usr/share/gocode/src/gopkg.in/yaml.v3 ] || tool_packages+=(golang-gopkg-yaml.v3-dev)
package_installed python3-protobuf || tool_packages+=(python3-protobuf)
# xmllint validates the SEPA files (pain.001) against the published XSD in the tests.
have_command xmllint || tool_packages+=(libxml2-utils)
have_command pdftotext || tool_packages+=(poppler-utils)
[ -x /usr/bin/chromium ] || tool_packages+=(chromium)
if [ ${#tool_packages[@]} -gt 0 ]; then
  tool_sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      tool_sudo=(sudo)
    else
      echo "ensure-system-deps: ${tool_packages[*]} missing and this user cannot install them; the tests that need them skip" >&2
      tool_packages=()
    fi
  fi
  if [ ${#tool_packages[@]} -gt 0 ]; then
    log "installing ${tool_packages[*]} with apt-get"
    "${tool_sudo[@]}" apt-get update
    "${tool_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${tool_packages[@]}"
  fi
else
  log "go, sprig, yaml, python3-protobuf, xmllint, pdftotext and chromium are present"
fi

# npm writes node_modules/.package-lock.json on every install, so its age is the install's age.
# `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional binaries (buf's
# darwin/win32 builds) out of the lockfile and `npm ci` then refuses it as out of sync. With a
# lockfile present `npm install` installs exactly the locked versions and leaves the file as is.
install_npm() {
  npm install --no-audit --no-fund
}
if [ ! -d node_modules ]; then
  log "node_modules is missing; running npm install (locked versions)"
  install_npm
elif [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "node_modules is older than package-lock.json; running npm install (locked versions)"
  install_npm
else
  log "node_modules is up to date with package-lock.json; npm install not needed"
fi
