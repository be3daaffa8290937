#!/usr/bin/env python3
"""An example scheduler port in Python + numpy, over diffspec's JSON-lines port protocol (version 1,
spec/14-scheduler-ports.md). It implements DDIMScheduler, EulerDiscreteScheduler and
DPMSolverMultistepScheduler (DPM-Solver++(2M)) in float64 and passes every clause that applies to it:

    npx diffspec conformance --scheduler-cmd "python3 adapters/examples/ports/numpy_schedulers.py"

Written from the protocol chapter alone. The broken ports in broken/ reuse it with one bug each.
"""
import base64
import json
import math
import sys

import numpy as np

DTYPE = "float64"
NP_DTYPE = "<f8"

SCHEDULE_KEYS = {
    "numTrainTimesteps": {"min": 50, "max": 1024, "integer": True},
    "betaStart": {"min": 0.00005, "max": 0.001},
    "betaEnd": {"min": 0.01, "max": 0.03},
    "betaSchedule": ["linear", "scaled_linear", "squaredcos_cap_v2"],
    "trainedBetas": "betas",
    "predictionType": ["epsilon", "v_prediction", "sample"],
    "timestepSpacing": ["linspace", "leading", "trailing"],
    "stepsOffset": [0, 1],
}

CAPABILITIES = {
    "name": "numpy-schedulers (Python example)",
    "dtype": DTYPE,
    "compat": "math",
    "classes": {
        "DDIMScheduler": {"config": {**SCHEDULE_KEYS, "setAlphaToOne": [True, False], "clipSample": [True, False]}, "eta": {"min": 0, "max": 1}, "addNoise": True, "getVelocity": True},
        "EulerDiscreteScheduler": {"config": dict(SCHEDULE_KEYS), "addNoise": True},
        "DPMSolverMultistepScheduler": {
            "config": {**SCHEDULE_KEYS, "solverOrder": [2], "algorithmType": ["dpmsolver++"], "solverType": ["midpoint"], "lowerOrderFinal": [True, False], "finalSigmasType": ["zero", "sigma_min"]},
            "addNoise": True,
        },
    },
}


class ConfigError(Exception):
    pass


# ─── schedule ────────────────────────────────────────────────────────────────────────────────────

def settings(config, **defaults):
    c = {"numTrainTimesteps": 1000, "betaStart": 0.0001, "betaEnd": 0.02, "betaSchedule": "linear", "trainedBetas": None,
         "predictionType": "epsilon", "timestepSpacing": "leading", "stepsOffset": 0, **defaults}
    for k, v in config.items():
        if v is not None:
            c[k] = v
    return c


def betas_of(c):
    n = c["numTrainTimesteps"]
    if c["trainedBetas"] is not None:
        return np.asarray(c["trainedBetas"], dtype=np.float64)
    if c["betaSchedule"] == "linear":
        return np.linspace(c["betaStart"], c["betaEnd"], n, dtype=np.float64)
    if c["betaSchedule"] == "scaled_linear":
        return np.linspace(c["betaStart"] ** 0.5, c["betaEnd"] ** 0.5, n, dtype=np.float64) ** 2
    if c["betaSchedule"] == "squaredcos_cap_v2":
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)])
    raise ConfigError(f"betaSchedule {c['betaSchedule']!r} is not implemented")


def spaced_timesteps(n, N, spacing, offset):
    """The visited timesteps of DDIM (numpy's rounding: halves to even)."""
    if spacing == "linspace":
        return np.linspace(0, N - 1, n).round()[::-1].astype(np.int64)
    if spacing == "leading":
        ratio = N // n
        return (np.arange(0, n) * ratio).round()[::-1].astype(np.int64) + offset
    return (np.arange(N, 0, -N / n).round() - 1).astype(np.int64)[:n]


def predict(prediction, out, x, a, s):
    """x̂₀ and ε̂ from the model output at √ᾱ = a, √(1 − ᾱ) = s."""
    if prediction == "epsilon":
        return (x - s * out) / a, out
    if prediction == "sample":
        return out, (x - a * out) / s
    return a * x - s * out, a * out + s * x


# ─── DDIM ────────────────────────────────────────────────────────────────────────────────────────

class DDIM:
    order = 1
    init_noise_sigma = 1.0
    sigmas = None

    def __init__(self, config):
        self.c = settings(config, setAlphaToOne=True, clipSample=True)
        self.alphas_cumprod = np.cumprod(1.0 - betas_of(self.c))
        self.final = 1.0 if self.c["setAlphaToOne"] else self.alphas_cumprod[0]
        self.timesteps = np.array([], dtype=np.int64)

    def set_timesteps(self, n):
        self.timesteps = spaced_timesteps(n, self.c["numTrainTimesteps"], self.c["timestepSpacing"], self.c["stepsOffset"])

    def previous_timestep(self, i):
        return int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1

    def scale_model_input(self, sample, timestep):
        return sample

    def step(self, model_output, timestep, sample, eta=0.0, noise=None):
        i = int(np.nonzero(self.timesteps == timestep)[0][0])
        prev = self.previous_timestep(i)
        abar_t = self.alphas_cumprod[int(timestep)]
        abar_s = self.alphas_cumprod[prev] if prev >= 0 else self.final
        x0, eps = predict(self.c["predictionType"], model_output, sample, abar_t ** 0.5, (1 - abar_t) ** 0.5)
        if self.c["clipSample"]:
            x0 = np.clip(x0, -1, 1)
        std = eta * (((1 - abar_s) / (1 - abar_t)) * (1 - abar_t / abar_s)) ** 0.5
        prev_sample = abar_s ** 0.5 * x0 + max(0.0, 1 - abar_s - std ** 2) ** 0.5 * eps
        if std > 0:
            prev_sample = prev_sample + std * noise
        return prev_sample, x0

    def add_noise(self, x0, noise, timestep):
        abar = self.alphas_cumprod[int(timestep)]
        return abar ** 0.5 * x0 + (1 - abar) ** 0.5 * noise

    def get_velocity(self, x0, noise, timestep):
        abar = self.alphas_cumprod[int(timestep)]
        return abar ** 0.5 * noise - (1 - abar) ** 0.5 * x0


# ─── Euler ───────────────────────────────────────────────────────────────────────────────────────

class Euler:
    order = 1

    def __init__(self, config):
        self.c = settings(config, timestepSpacing="linspace")
        self.alphas_cumprod = np.cumprod(1.0 - betas_of(self.c))
        self.train_sigmas = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5
        self.sigmas = None
        self.timesteps = np.array([])
        self.index = 0

    @property
    def init_noise_sigma(self):
        m = float(np.max(self.sigmas if self.sigmas is not None else self.train_sigmas))
        return (m * m + 1) ** 0.5

    def set_timesteps(self, n):
        N = self.c["numTrainTimesteps"]
        if self.c["timestepSpacing"] == "linspace":
            self.timesteps = np.linspace(0, N - 1, n)[::-1].copy()
        else:
            self.timesteps = spaced_timesteps(n, N, self.c["timestepSpacing"], self.c["stepsOffset"]).astype(np.float64)
        sig = np.interp(self.timesteps, np.arange(N), self.train_sigmas)
        self.sigmas = np.concatenate([sig, [0.0]])
        self.index = 0

    def sigma_of(self, timestep):
        return self.sigmas[int(np.nonzero(self.timesteps == timestep)[0][0])]

    def scale_model_input(self, sample, timestep):
        return sample / (self.sigma_of(timestep) ** 2 + 1) ** 0.5

    def denoised(self, out, x, sigma):
        p = self.c["predictionType"]
        if p == "epsilon":
            return x - sigma * out
        if p == "sample":
            return out
        return x / (sigma ** 2 + 1) - sigma / (sigma ** 2 + 1) ** 0.5 * out

    def step(self, model_output, timestep, sample, eta=None, noise=None):
        i = self.index
        self.index += 1
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        x0 = self.denoised(model_output, sample, sigma)
        d = (sample - x0) / sigma
        return sample + (sigma_next - sigma) * d, x0

    def add_noise(self, x0, noise, timestep):
        return x0 + self.sigma_of(timestep) * noise


# ─── DPM-Solver++(2M) ────────────────────────────────────────────────────────────────────────────

def vp(sigma_ve):
    """α, σ and λ = log(α/σ) of the VP view at VE noise level σ_ve (λ = +∞ at σ = 0, the last step)."""
    alpha = 1 / (sigma_ve ** 2 + 1) ** 0.5
    sigma = sigma_ve * alpha
    return alpha, sigma, (math.log(alpha) - math.log(sigma)) if sigma > 0 else math.inf


class DPMSolverPP2M:
    order = 1
    init_noise_sigma = 1.0

    def __init__(self, config):
        self.c = settings(config, timestepSpacing="linspace", lowerOrderFinal=True, finalSigmasType="zero")
        self.alphas_cumprod = np.cumprod(1.0 - betas_of(self.c))
        self.train_sigmas = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5
        self.sigmas = None
        self.timesteps = np.array([], dtype=np.int64)

    def set_timesteps(self, n):
        N, spacing = self.c["numTrainTimesteps"], self.c["timestepSpacing"]
        if spacing == "linspace":
            ts = np.linspace(0, N - 1, n + 1).round()[::-1][:-1]
        elif spacing == "leading":
            ts = (np.arange(0, n + 1) * (N // (n + 1))).round()[::-1][:-1] + self.c["stepsOffset"]
        else:  # trailing: round(N − k·N/n) − 1 (SAMP-EXPINT-SCHEDULE)
            ts = np.round(N - np.arange(n) * (N / n)) - 1
        self.timesteps = ts.astype(np.int64)
        last = 0.0 if self.c["finalSigmasType"] == "zero" else self.train_sigmas[0]
        self.sigmas = np.concatenate([self.train_sigmas[self.timesteps], [last]])
        self.index = 0
        self.previous = None

    def scale_model_input(self, sample, timestep):
        return sample

    def step(self, model_output, timestep, sample, eta=None, noise=None):
        i = self.index
        self.index += 1
        n = len(self.timesteps)
        a_s, s_s, l_s = vp(self.sigmas[i])
        a_t, s_t, l_t = vp(self.sigmas[i + 1])
        x0 = predict(self.c["predictionType"], model_output, sample, a_s, s_s)[0]
        lower_final = i == n - 1 and ((self.c["lowerOrderFinal"] and n < 15) or self.c["finalSigmasType"] == "zero")
        h = l_t - l_s
        if h == 0:  # a zero-length step (e.g. trailing ending at t = 0 with final σ = σ_min): nothing moves
            self.previous = x0
            return sample, x0
        prev = (s_t / s_s) * sample - a_t * math.expm1(-h) * x0
        if self.previous is not None and not lower_final:
            l_prev = vp(self.sigmas[i - 1])[2]
            d1 = (x0 - self.previous) / ((l_s - l_prev) / h)
            prev = prev - 0.5 * a_t * math.expm1(-h) * d1
        self.previous = x0
        return prev, x0

    def add_noise(self, x0, noise, timestep):
        alpha, sigma, _ = vp(self.sigmas[int(np.nonzero(self.timesteps == timestep)[0][0])])
        return alpha * x0 + sigma * noise


CLASSES = {"DDIMScheduler": DDIM, "EulerDiscreteScheduler": Euler, "DPMSolverMultistepScheduler": DPMSolverPP2M}


# ─── the protocol ────────────────────────────────────────────────────────────────────────────────

def decode(t):
    return np.frombuffer(base64.b64decode(t["data"]), dtype=NP_DTYPE if t["dtype"] == "float64" else "<f4").astype(np.float64).reshape(t["shape"])


def encode(a):
    a = np.asarray(a, dtype=np.float64)
    return {"dtype": DTYPE, "shape": list(a.shape), "data": base64.b64encode(a.astype(NP_DTYPE).tobytes()).decode()}


def serve(capabilities, classes):
    """Answers requests from stdin, one JSON line each, until `close`."""
    schedulers = {}

    def handle(req):
        op = req["op"]
        if op == "capabilities":
            return {"protocol": 1, "capabilities": capabilities}
        if op == "close":
            return {}
        if op == "create":
            if req["class"] not in classes:
                raise ConfigError(f"class {req['class']} is not implemented")
            s = classes[req["class"]](req["config"])
            handle_id = f"h{len(schedulers) + 1}"
            schedulers[handle_id] = s
            return {"handle": handle_id, "alphas_cumprod": encode(s.alphas_cumprod), "init_noise_sigma": float(s.init_noise_sigma), "order": s.order}
        s = schedulers[req["handle"]]
        if op == "set_timesteps":
            s.set_timesteps(req["num_inference_steps"])
            return {"timesteps": [float(t) if not float(t).is_integer() else int(t) for t in s.timesteps],
                    "sigmas": encode(s.sigmas) if s.sigmas is not None else None,
                    "init_noise_sigma": float(s.init_noise_sigma), "order": s.order}
        if op == "scale_model_input":
            return {"sample": encode(s.scale_model_input(decode(req["sample"]), req["timestep"]))}
        if op == "step":
            noise = decode(req["noise"]) if "noise" in req else None
            prev, x0 = s.step(decode(req["model_output"]), req["timestep"], decode(req["sample"]), eta=req.get("eta", 0.0), noise=noise)
            return {"prev_sample": encode(prev), "pred_original_sample": encode(x0)}
        if op == "add_noise":
            return {"noisy_samples": encode(s.add_noise(decode(req["original_samples"]), decode(req["noise"]), req["timestep"]))}
        if op == "get_velocity":
            return {"velocity": encode(s.get_velocity(decode(req["sample"]), decode(req["noise"]), req["timestep"]))}
        raise ConfigError(f"unknown op {op!r}")

    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer = {"id": req["id"], "ok": True, "result": handle(req)}
        except Exception as e:  # a typed error answer; the suite fails the property in progress
            answer = {"id": req["id"], "ok": False, "error": {"type": type(e).__name__, "message": str(e)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if req["op"] == "close":
            return


if __name__ == "__main__":
    serve(CAPABILITIES, CLASSES)
