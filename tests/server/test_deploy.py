"""What ships for deployment: the systemd unit, the man page."""
import os
import re
import shutil
import subprocess
import time

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
UNIT = os.path.join(ROOT, "data", "vchat-signald.service.in")
MAN = os.path.join(ROOT, "data", "vchat-signald.8")


def unit_for(tmp_path):
    binary = os.environ.get("VCHAT_SIGNALD")
    if not binary:
        pytest.skip("VCHAT_SIGNALD is not set")
    with open(UNIT) as f:
        text = f.read().replace("@bindir@/vchat-signald", binary)
    path = tmp_path / "vchat-signald.service"
    path.write_text(text)
    return path, text


def test_unit_is_valid_and_hardened(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    path, text = unit_for(tmp_path)
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if line.strip() and "man vchat-signald(8)" not in line]
    assert not problems, problems
    for setting in ("DynamicUser=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                    "NoNewPrivileges=yes", "RestrictAddressFamilies=", "LimitNOFILE=",
                    "ExecReload=/bin/kill -HUP $MAINPID"):
        assert re.search(r"^" + re.escape(setting), text, re.M), setting
    # no capability unless a low port is configured by the admin
    assert re.search(r"^CapabilityBoundingSet=$", text, re.M)
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(path)],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    print(f"\nFIGURES unit: systemd-analyze security exposure {m.group(1)}")
    assert float(m.group(1)) <= 2.0


def test_unit_file_limit_matches_the_caps(tmp_path, signald):
    """The unit's LimitNOFILE gives exactly the default caps' maximum."""
    _, text = unit_for(tmp_path)
    nofile = int(re.search(r"^LimitNOFILE=(\d+)", text, re.M).group(1))
    s = signald("--verbose", nofile=nofile)
    deadline = time.monotonic() + 3
    while "admitting at most" not in s.log and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "admitting at most 16384 connections (1024 pending" in s.log, s.log


def test_man_page_lists_every_option():
    binary = os.environ.get("VCHAT_SIGNALD")
    if not binary:
        pytest.skip("VCHAT_SIGNALD is not set")
    out = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"--[a-z][a-z-]+", out)) - {"--help"}
    with open(MAN) as f:
        man = f.read().replace("\\-", "-")
    missing = sorted(o for o in options if o not in man)
    assert not missing, f"vchat-signald(8) does not describe {missing}"
    if shutil.which("man"):
        r = subprocess.run(["man", "--warnings", "-l", MAN], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
