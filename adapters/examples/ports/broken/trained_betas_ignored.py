#!/usr/bin/env python3
"""BROKEN ON PURPOSE: accepts trainedBetas but builds the named beta schedule anyway. Fails SCHED-CUMPROD."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy_schedulers as base  # noqa: E402

correct_betas = base.betas_of


def betas_ignoring_trained(c):
    return correct_betas({**c, "trainedBetas": None})


base.betas_of = betas_ignoring_trained
CAPABILITIES = {**base.CAPABILITIES, "name": "broken: trainedBetas ignored", "classes": {"DDIMScheduler": base.CAPABILITIES["classes"]["DDIMScheduler"]}}

if __name__ == "__main__":
    base.serve(CAPABILITIES, {"DDIMScheduler": base.DDIM})
