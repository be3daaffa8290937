#!/usr/bin/env python3
"""BROKEN ON PURPOSE: linear betas spaced over N + 1 points with the last dropped (an off-by-one). Fails SCHED-LINEAR."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy_schedulers as base  # noqa: E402

correct_betas = base.betas_of


def betas_off_by_one(c):
    if c["trainedBetas"] is None and c["betaSchedule"] == "linear":
        return np.linspace(c["betaStart"], c["betaEnd"], c["numTrainTimesteps"] + 1)[:-1]
    return correct_betas(c)


base.betas_of = betas_off_by_one
CAPABILITIES = {**base.CAPABILITIES, "name": "broken: linear betas over N + 1 points", "classes": {"EulerDiscreteScheduler": base.CAPABILITIES["classes"]["EulerDiscreteScheduler"]}}

if __name__ == "__main__":
    base.serve(CAPABILITIES, {"EulerDiscreteScheduler": base.Euler})
