#!/usr/bin/env bash
# Installs everything trio_zookeeper's development needs, idempotently:
#  - Java 17 and ZooKeeper from Debian's packages (when missing and we are root),
#  - MIT Kerberos (KDC, admin tools, client tools, headers for the gssapi
#    binding) for the Kerberos tests and the kerberos extra,
#  - a JDK and Apache Curator 5 (Debian's libcurator-*-java) for the Curator interop tests,
#  - a virtual environment in .venv with the package (editable) and its dev groups.
# Usage: scripts/bootstrap.sh [GROUP...]   (default group: dev)
set -euo pipefail
cd "$(dirname "$0")/.."
groups=("${@:-dev}")

# ZOOKEEPER_HOSTS is the one name for "use this running ZooKeeper" (the demo,
# the pytest plugin, the command-line client). Its former name is refused, not
# silently ignored.
if [ -n "${TZK_SERVERS+set}" ]; then
    echo "bootstrap: TZK_SERVERS is set, but it has been renamed: use" >&2
    echo "  ZOOKEEPER_HOSTS=${TZK_SERVERS} instead (or unset TZK_SERVERS)." >&2
    exit 2
fi

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
[ -n "${ZOOKEEPER_CLASSPATH:-}${ZOOKEEPER_HOME:-}" ] || [ -f /usr/share/java/zookeeper.jar ] || need_apt+=(zookeeper)
[ -f /usr/share/java/slf4j-simple.jar ] || need_apt+=(libslf4j-java)
[ -x /usr/sbin/krb5kdc ] || need_apt+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || need_apt+=(krb5-admin-server)
command -v kinit >/dev/null 2>&1 || need_apt+=(krb5-user)
command -v krb5-config >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
# The gssapi binding is a C extension: it needs the interpreter's headers.
py_include="$("${PYTHON:-python3}" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)"
[ -n "$py_include" ] && [ -f "$py_include/Python.h" ] || need_apt+=(python3-dev)
# The Curator interop tests compile tests/curator/CuratorPeer.java against these.
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/curator-client.jar ] || need_apt+=(libcurator-client-java)
[ -f /usr/share/java/curator-framework.jar ] || need_apt+=(libcurator-framework-java)
[ -f /usr/share/java/curator-recipes.jar ] || need_apt+=(libcurator-recipes-java)
[ -f /usr/share/java/curator-x-discovery.jar ] || need_apt+=(libcurator-discovery-java)
[ -f /usr/share/java/zookeeper-jute.jar ] || need_apt+=(libzookeeper-java)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing Debian packages: ${need_apt[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "bootstrap: missing Debian packages: ${need_apt[*]}" >&2
        echo "  install them (sudo apt-get install ${need_apt[*]}), or point" >&2
        echo "  ZOOKEEPER_HOME / ZOOKEEPER_CLASSPATH at an existing ZooKeeper," >&2
        echo "  or set ZOOKEEPER_HOSTS=host:port to use a running server." >&2
        if [ -z "${ZOOKEEPER_HOSTS:-}" ]; then exit 1; fi
    fi
fi

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
stamp=.venv/.bootstrap-stamp
want="$(cat pyproject.toml | sha256sum | cut -c1-16) ${groups[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -U "pip>=25.1"
    args=()
    for g in "${groups[@]}"; do args+=(--group "$g"); done
    .venv/bin/python -m pip install -q --disable-pip-version-check -e . "${args[@]}"
    echo "$want" > "$stamp"
fi
