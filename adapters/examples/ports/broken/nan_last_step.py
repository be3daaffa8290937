#!/usr/bin/env python3
"""BROKEN ON PURPOSE: DPM-Solver++(2M) whose last step returns NaN (log(σ) at σ = 0 taken with numpy, which warns
instead of raising, and 0·∞ downstream). Fails PORT-FINITE."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy_schedulers as base  # noqa: E402

np.seterr(all="ignore")


def vp_without_the_sigma_zero_case(sigma_ve):
    alpha = 1 / (sigma_ve ** 2 + 1) ** 0.5
    sigma = sigma_ve * alpha
    return alpha, sigma, float(np.log(alpha) - np.log(sigma) + 0 * np.log(sigma))


base.vp = vp_without_the_sigma_zero_case
CAPABILITIES = {**base.CAPABILITIES, "name": "broken: NaN on the last step", "classes": {"DPMSolverMultistepScheduler": base.CAPABILITIES["classes"]["DPMSolverMultistepScheduler"]}}

if __name__ == "__main__":
    base.serve(CAPABILITIES, {"DPMSolverMultistepScheduler": base.DPMSolverPP2M})
