#!/usr/bin/env python3
"""BROKEN ON PURPOSE, at the protocol level: the numpy example's DDIM, except that the first `step` request of
every process crashes, hangs, writes a line that is not JSON, or answers a tensor of the wrong shape (the mode
is argv[1]). diffspec must fail the property in progress with the reason and the tail of this stderr, restart the
process, and go on (spec/14-scheduler-ports.md, PORT-PROTOCOL)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy_schedulers as base  # noqa: E402

MODE = sys.argv[1]
original_step = base.DDIM.step
state = {"steps": 0}


def misbehaving_step(self, model_output, timestep, sample, eta=0.0, noise=None):
    state["steps"] += 1
    if state["steps"] == 1:
        print(f"misbehaving_process: first step, mode {MODE}", file=sys.stderr, flush=True)
        if MODE == "crash":
            sys.exit(3)
        if MODE == "hang":
            time.sleep(3600)
        if MODE == "garbage":
            sys.stdout.write("this is not JSON\n")
            sys.stdout.flush()
        if MODE == "shape":
            prev, x0 = original_step(self, model_output, timestep, sample, eta, noise)
            return prev.reshape(-1)[:-1], x0
    return original_step(self, model_output, timestep, sample, eta, noise)


base.DDIM.step = misbehaving_step
CAPABILITIES = {**base.CAPABILITIES, "name": f"broken: misbehaving process ({MODE})", "classes": {"DDIMScheduler": base.CAPABILITIES["classes"]["DDIMScheduler"]}}

if __name__ == "__main__":
    base.serve(CAPABILITIES, {"DDIMScheduler": base.DDIM})
