"""Apache Curator's jars (Debian's packages) and compiling a Java program against them.

Shared by the Curator interop tests (``curator_peer.py``, beside this file)
and the Curator side of the recipe benchmarks (``bench/recipes_curator.py``,
which loads this file by its path). It needs nothing but the standard library.
What is missing is reported as :class:`JavaUnavailable`, naming what to
install; each caller turns it into its own failure (a test failure, a
benchmark child's error). Compiled classes are cached in the temporary
directory, keyed by the source and the class path.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

JAR_DIR = pathlib.Path(os.environ.get("TZK_CURATOR_JARS", "/usr/share/java"))
#: Each jar the programs need, and the Debian package that installs it.
JARS = {
    "curator-x-discovery.jar": "libcurator-discovery-java",
    "curator-recipes.jar": "libcurator-recipes-java",
    "curator-framework.jar": "libcurator-framework-java",
    "curator-client.jar": "libcurator-client-java",
    "zookeeper.jar": "libzookeeper-java",
    "zookeeper-jute.jar": "libzookeeper-java",
    "slf4j-api.jar": "libslf4j-java",
    "slf4j-nop.jar": "libslf4j-java",
    "jackson-databind.jar": "libjackson2-databind-java",
    "jackson-core.jar": "libjackson2-core-java",
    "jackson-annotations.jar": "libjackson2-annotations-java",
    "guava.jar": "libguava-java",
}
INSTALL = (
    "apt-get install -y openjdk-17-jdk-headless libcurator-framework-java "
    "libcurator-recipes-java libcurator-discovery-java libcurator-client-java libzookeeper-java "
    "(scripts/bootstrap.sh does this as root)"
)


class JavaUnavailable(Exception):
    """Java, javac or Curator's jars are missing, or the program did not compile."""


def java() -> str:
    """The ``java`` command.

    Raises:
        JavaUnavailable: It is not installed.
    """
    found = shutil.which("java")
    if found is None:
        raise JavaUnavailable(f"Apache Curator's programs need java. Install: {INSTALL}")
    return found


def compile_java(source: pathlib.Path, jar_dir: pathlib.Path = JAR_DIR) -> str:
    """Compile ``source`` against Curator's jars (cached); return the class path to run it.

    Raises:
        JavaUnavailable: Java, javac or a jar is missing (naming the Debian
            packages to install), or javac failed.
    """
    missing = sorted({pkg for jar, pkg in JARS.items() if not (jar_dir / jar).is_file()})
    if missing:
        raise JavaUnavailable(
            f"{source.name} needs Apache Curator's jars in {jar_dir}; missing Debian "
            f"packages: {' '.join(missing)}. Install: {INSTALL}"
        )
    java()
    javac = shutil.which("javac")
    if javac is None:
        raise JavaUnavailable(f"{source.name} needs javac to compile. Install: {INSTALL}")
    jars = ":".join(str(jar_dir / jar) for jar in JARS)
    key = hashlib.sha256(source.read_bytes() + jars.encode()).hexdigest()[:16]
    out = pathlib.Path(tempfile.gettempdir()) / f"trio-zookeeper-java-{source.stem}-{key}"
    if not (out / f"{source.stem}.class").is_file():
        work = pathlib.Path(tempfile.mkdtemp(prefix=f"{source.stem}-build-"))
        result = subprocess.run(
            [javac, "-encoding", "UTF-8", "-nowarn", "-d", str(work), "-cp", jars, str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise JavaUnavailable(f"javac failed on {source}:\n{result.stderr}")
        try:
            work.rename(out)  # atomic; another process may have won the race
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
    return f"{out}:{jars}"
