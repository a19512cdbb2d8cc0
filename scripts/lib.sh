# Shell functions shared by ./baton and ./test. Source it; do not run it.
#
# Every function prints its complaints to stderr prefixed with $BATON_SCRIPT (the calling
# script's name) and returns non-zero instead of exiting, so callers decide the exit code.

BATON_SCRIPT=${BATON_SCRIPT:-$(basename "$0")}

# Debian packages that the demo, the benchmark and the lab tests use: nftables and libnftables
# for the data plane, iproute2 for namespaces and veths, real clients and servers for end-to-end
# checks, haproxy as the benchmark's reference balancer, gcc and libc6-dev for the C example of a
# cooperating worker (built by a test), help2man for the Debian package's man page (./baton package),
# chromium (headless) for the stats page's browser test.
BATON_PACKAGES=(nftables libnftables1 iproute2 iputils-ping curl wrk hey openssl nginx-light tcpdump procps haproxy bird2 pv gcc libc6-dev help2man chromium dnsmasq-base bind9-dnsutils ethtool)

say() { printf '%s: %s\n' "$BATON_SCRIPT" "$*" >&2; }

# Prints the feature release (8, 17, 25, ...) of the java binary $1, or fails.
java_major() {
  local version
  version=$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1) || return 1
  [[ -n $version ]] || return 1
  version=${version#1.}          # 1.8.0_x -> 8.0_x
  printf '%s\n' "${version%%[.+_-]*}"
}

# Prints the home of a JDK >= 25: JAVA_HOME if it qualifies, else the newest in /usr/lib/jvm,
# else the java on PATH. Fails with a message naming the places it looked. BATON_JVM_DIR
# replaces /usr/lib/jvm (for testing this function).
find_jdk() {
  local min=25 major best_home="" best_major=0 java_bin
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    major=$(java_major "$JAVA_HOME/bin/java") || major=0
    if (( major >= min )); then printf '%s\n' "$JAVA_HOME"; return 0; fi
  fi
  for java_bin in "${BATON_JVM_DIR:-/usr/lib/jvm}"/*/bin/java; do
    [[ -x $java_bin ]] || continue
    major=$(java_major "$java_bin") || continue
    if (( major >= min && major > best_major )); then
      best_major=$major
      best_home=$(dirname "$(dirname "$java_bin")")
    fi
  done
  if [[ -n $best_home ]]; then printf '%s\n' "$best_home"; return 0; fi
  if java_bin=$(command -v java); then
    major=$(java_major "$java_bin") || major=0
    if (( major >= min )); then
      java_bin=$(readlink -f "$java_bin")
      printf '%s\n' "$(dirname "$(dirname "$java_bin")")"
      return 0
    fi
  fi
  say "Baton needs a JDK $min or newer; none found in JAVA_HOME, /usr/lib/jvm or PATH"
  return 3
}

# Installs the Debian packages named as arguments that dpkg does not list as installed.
# Runs apt-get update first, but only when something is missing. Needs root for that.
ensure_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
      missing+=("$pkg")
    fi
  done
  (( ${#missing[@]} == 0 )) && return 0
  if (( EUID != 0 )); then
    say "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    return 1
  fi
  say "installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || { say "apt-get update failed"; return 1; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || { say "apt-get install ${missing[*]} failed"; return 1; }
}

# Makes sure mvn is on PATH, installing Debian's maven package if it is not.
ensure_maven() {
  command -v mvn >/dev/null 2>&1 && return 0
  ensure_packages maven || return 1
  command -v mvn >/dev/null 2>&1 || { say "mvn is still missing after installing maven"; return 1; }
}

# Runs mvn with the JDK at $1 and the remaining arguments. Maven 3.8 on JDK 25 warns about
# sun.misc.Unsafe on every run unless told to allow it.
run_maven() {
  local jdk=$1
  shift
  JAVA_HOME=$jdk PATH="$jdk/bin:$PATH" \
    MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow" mvn "$@"
}
