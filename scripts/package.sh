#!/usr/bin/env bash
# Builds Baton's Debian package from a built jar: scripts/package.sh --jar JAR --output DIR.
# ./baton package runs it with baton-cli/target/baton.jar (building it first when needed).
# Needs dpkg-deb and help2man (the man page is generated from baton's own --help).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BATON_SCRIPT=${BATON_SCRIPT:-package}
source "$ROOT/scripts/lib.sh"

jar="" output="$ROOT/target/package"
while (( $# )); do
  case $1 in
    --jar) jar=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    *) say "unknown argument $1 (usage: package.sh --jar JAR [--output DIR])"; exit 2 ;;
  esac
done
[[ -f $jar ]] || { say "no jar at '$jar' (build it with: mvn -DskipTests install)"; exit 2; }
for tool in dpkg-deb help2man; do
  command -v "$tool" >/dev/null || { say "$tool is missing: apt-get install ${tool/dpkg-deb/dpkg}"; exit 3; }
done
JDK=$(find_jdk) || exit 3

# The version: the project's, plus the commit the jar names (baton --version).
version_line=$("$JDK/bin/java" --enable-native-access=ALL-UNNAMED -jar "$jar" --version | head -n 1)
project=$(sed -n 's/^baton \([^ ]*\).*/\1/p' <<<"$version_line")
commit=$(sed -n 's/.*commit \([0-9a-f]\{12\}\).*/\1/p' <<<"$version_line")
version=${project/-SNAPSHOT/~snapshot}${commit:++git$commit}
[[ -n $project ]] || { say "cannot read the version from: $version_line"; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/baton
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/baton/examples" "$pkg/usr/share/baton/grafana" \
  "$pkg/lib/systemd/system" "$pkg/usr/share/doc/baton" "$pkg/usr/share/man/man1"
install -m 0644 "$jar" "$pkg/usr/share/baton/baton.jar"
install -m 0755 "$ROOT/packaging/bin-baton" "$pkg/usr/bin/baton"
install -m 0644 "$ROOT"/packaging/systemd/*.service "$pkg/lib/systemd/system/"
install -m 0644 "$ROOT"/config/examples/*.yaml "$pkg/usr/share/baton/examples/"
install -m 0644 "$ROOT/packaging/grafana/baton-farm.json" "$pkg/usr/share/baton/grafana/"
install -m 0644 "$ROOT/README.md" "$pkg/usr/share/doc/baton/README.md"
{ cat "$ROOT/NOTICE"; echo; echo "----"; echo; cat "$ROOT/LICENSE"; } > "$pkg/usr/share/doc/baton/copyright"
gzip -9n -c "$ROOT/CHANGELOG.md" > "$pkg/usr/share/doc/baton/changelog.gz"

# The man page, from the launcher's own --help and --version (help2man runs it).
cat > "$stage/baton-for-help2man" <<SH
#!/bin/sh
exec "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -jar "$jar" "\$@"
SH
chmod +x "$stage/baton-for-help2man"
# Each command's own --help, as a COMMANDS section (help2man reads only the top level).
{
  echo "[COMMAND DETAILS]"
  for cmd in dispatcher server gateway register drain ctl config probe demo bench; do
    echo ".SS \"baton $cmd\""
    echo ".nf"
    "$stage/baton-for-help2man" "$cmd" --help | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/"
    echo ".fi"
  done
} > "$stage/commands.h2m"
help2man --no-info --name="load balancer that moves live TCP connections to the servers" \
  --section=1 --include="$stage/commands.h2m" --output="$stage/baton.1" "$stage/baton-for-help2man"
sed -i 's/baton-for-help2man/baton/g; s/BATON-FOR-HELP2MAN/BATON/g' "$stage/baton.1"
gzip -9n -c "$stage/baton.1" > "$pkg/usr/share/man/man1/baton.1.gz"

install -m 0755 "$ROOT"/packaging/debian/{postinst,prerm,postrm} "$pkg/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: baton
Version: $version
Section: net
Priority: optional
Architecture: amd64
Maintainer: Baton developers <baton@example.invalid>
Installed-Size: $size
Depends: nftables, libnftables1, iproute2, procps, adduser
Recommends: bird2, curl
Homepage: https://example.invalid/baton
Description: load balancer that moves live TCP connections to the servers
 Baton's dispatcher lets the kernel accept a client's connection, reads its first request
 (HTTP head, TLS SNI, or nothing in L4 mode), picks a server, and hands the kernel connection
 to it with TCP_REPAIR; the server answers the client directly from the VIP. Also a server
 agent and a WAN gateway. Needs a JDK 25 or newer (not in Debian 12: e.g. Temurin 25);
 the launcher finds it under /usr/lib/jvm.
CONTROL

mkdir -p "$output"
deb="$output/baton_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
say "built $deb ($(du -h "$deb" | cut -f1))"
echo "$deb"
