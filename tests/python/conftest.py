"""Shared fixtures: where the build put the CLI and the library, and where the shared test data lives."""
import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SQ_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED_DIR = pathlib.Path(os.environ.get("SQ_SHARED_DIR", SOURCE_DIR.parent / "shared"))
BUILD_DIR = pathlib.Path(os.environ.get("SQ_BUILD_DIR", SOURCE_DIR / "build"))
CLI = pathlib.Path(os.environ.get("SQ_CLI", BUILD_DIR / "bin" / "streamquant"))
LIB = pathlib.Path(os.environ.get("SQ_LIB", BUILD_DIR / "lib" / "libstreamquant.so"))


def run_cli(*args, check=True):
    """Run the streamquant CLI; returns the CompletedProcess (text mode)."""
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"streamquant {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def cli():
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    return run_cli
