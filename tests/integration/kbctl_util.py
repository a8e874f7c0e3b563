"""Runs build/kbctl (or $KBCTL_BIN) as a script would, for the test_kbctl*.py modules."""
import json
import os
import subprocess

from kbroker_harness import REPO

KBCTL = os.environ.get("KBCTL_BIN", os.path.join(REPO, "build", "kbctl"))


class Run:
    def __init__(self, args, proc):
        self.args, self.rc, self.out, self.err = args, proc.returncode, proc.stdout, proc.stderr

    def json(self):
        assert self.rc == 0, repr(self)
        return json.loads(self.out)

    def __repr__(self):
        return f"kbctl {' '.join(self.args)} -> rc {self.rc}\nstdout: {self.out}\nstderr: {self.err}"


def kbctl(brokers, *args, stdin=None, timeout=60, env=None):
    """kbctl -X brokers=<brokers> args...; returns a Run (rc, out, err)."""
    full = ["-X", f"brokers={brokers}", "-X", "timeout.ms=15000", *args] if brokers else list(args)
    proc = subprocess.run([KBCTL, *full], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env)
    return Run(full, proc)


def kbctl_json(brokers, *args, **kw):
    return kbctl(brokers, "--format", "json", *args, **kw).json()
