"""Apache Jena (Debian's libapache-jena-java) from the tests: riot, shacl and arq.

Debian's package needs ``../shared/tools/jena-env.sh`` to start (see that file); the commands
run in bash with it sourced.  Tests that need Jena skip when it is missing, except under
``CI=true``, where ``.ci/run`` installs it and a missing Jena is a failure.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from kb import paths

JENA_ENV = paths.PROJECT_ROOT.parent / "shared" / "tools" / "jena-env.sh"
JENA_JAR = Path("/usr/share/java/jena-arq.jar")


def available() -> bool:
    return JENA_ENV.is_file() and JENA_JAR.is_file() and shutil.which("java") is not None


needs_jena = pytest.mark.skipif(
    not available() and os.environ.get("CI") != "true",
    reason="Apache Jena (libapache-jena-java) is not installed (CI installs it)")


def jena(tool: str, *args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``riot``, ``shacl`` or ``arq`` with its arguments; output captured as text."""
    assert tool in {"riot", "shacl", "arq"}
    command = f". {shlex.quote(str(JENA_ENV))} && {tool} " + " ".join(
        shlex.quote(str(a)) for a in args)
    env = {**os.environ, "JENA_HEAP": os.environ.get("JENA_HEAP", "1g")}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
