#!/usr/bin/env bash
# Regenerate tests/golden/vectors.json from the official ZooKeeper Java jute classes.
#
# Usage: tests/golden/generate.sh
# Env overrides: ZK_JAR, ZK_JUTE_JAR (default: Debian libzookeeper-java locations),
#                JAVA, JAVAC (default: from PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
out="$here/vectors.json"

ZK_JAR="${ZK_JAR:-/usr/share/java/zookeeper.jar}"
ZK_JUTE_JAR="${ZK_JUTE_JAR:-/usr/share/java/zookeeper-jute.jar}"
JAVA="${JAVA:-java}"
JAVAC="${JAVAC:-javac}"

die() {
    echo "generate.sh: error: $*" >&2
    exit 1
}

command -v "$JAVAC" >/dev/null 2>&1 ||
    die "'$JAVAC' not found. Install a JDK, e.g.: apt-get install -y openjdk-17-jdk-headless"
command -v "$JAVA" >/dev/null 2>&1 ||
    die "'$JAVA' not found. Install a JDK, e.g.: apt-get install -y openjdk-17-jdk-headless"
[[ -f "$ZK_JAR" ]] ||
    die "ZooKeeper jar not found at $ZK_JAR. Install it with: apt-get install -y libzookeeper-java (or set ZK_JAR)"
[[ -f "$ZK_JUTE_JAR" ]] ||
    die "ZooKeeper jute jar not found at $ZK_JUTE_JAR. Install it with: apt-get install -y libzookeeper-java (or set ZK_JUTE_JAR)"

# zookeeper.jar's manifest Class-Path pulls in slf4j-api etc. from /usr/share/java.
cp="$ZK_JUTE_JAR:$ZK_JAR"

rm -rf "$build/classes"
mkdir -p "$build/classes"
"$JAVAC" -encoding US-ASCII -Xlint:all -Werror -nowarn -d "$build/classes" -cp "$cp" "$here/GoldenVectors.java" ||
    die "javac failed"

tmp="$build/vectors.json.tmp"
"$JAVA" -cp "$build/classes:$cp" GoldenVectors >"$tmp" || die "GoldenVectors failed; $out left unchanged"
[[ -s "$tmp" ]] || die "GoldenVectors produced no output; $out left unchanged"

# Validate the JSON when a Python is at hand (the project venv, else python3).
py=""
for candidate in "$here/../../.venv/bin/python" "$(command -v python3 || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
        py="$candidate"
        break
    fi
done
if [[ -n "$py" ]]; then
    "$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); print("generate.sh: JSON ok:", len(d["vectors"]), "vectors,", len(d["quirks"]), "quirks, zookeeper", d["zookeeper_version"], file=sys.stderr)' "$tmp" ||
        die "generated JSON does not parse; $out left unchanged"
else
    echo "generate.sh: warning: no python found, JSON not validated" >&2
fi

mv "$tmp" "$out"
echo "generate.sh: wrote $out" >&2
