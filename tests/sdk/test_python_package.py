"""sdk/python builds into an installable, typed wheel named truestack-sdk (offline:
the build backend comes from requirements.txt), and the installed copy works."""

import os
import subprocess
import sys
import zipfile
from email.parser import Parser

from .conftest import REPO


def test_wheel_builds_installs_and_is_typed(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
        + [str(REPO / "sdk" / "python")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = wheels.glob("truestack_sdk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "truestack_sdk/py.typed" in names and "truestack_sdk/client.py" in names
    assert not any(name.startswith(("truestack/", "tests/")) for name in names)  # never the server's package
    [metadata_name] = [name for name in names if name.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(zipfile.ZipFile(wheel).read(metadata_name).decode())
    assert metadata["Name"] == "truestack-sdk"
    assert metadata.get_all("Requires-Dist") == ["requests>=2.28"]  # the only dependency

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import truestack_sdk, sys; print(truestack_sdk.__file__, truestack_sdk.__version__)"],
        env=dict(os.environ, PYTHONPATH=str(site)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    location, version = probe.stdout.split()
    assert location.startswith(str(site)) and version == metadata["Version"]
