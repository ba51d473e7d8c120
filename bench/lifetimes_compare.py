"""Run by bench/lifecycle.py under a separate Python that has `lifetimes` (never a project
dependency): the same fit and predictions on the same arrays. Prints JSON timings."""

import json
import sys
import time

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

data = np.load(sys.argv[1])
x, t_x, T, m = (pd.Series(data[k]) for k in ("x", "t_x", "T", "m"))
start = time.perf_counter()
bg = BetaGeoFitter().fit(x, t_x, T)
repeat = x > 0
gg = GammaGammaFitter().fit(x[repeat], m[repeat])
fit_s = time.perf_counter() - start
start = time.perf_counter()
bg.conditional_probability_alive(x, t_x, T)
for days in (30, 90, 365):
    bg.conditional_expected_number_of_purchases_up_to_time(days / 7, x, t_x, T)
gg.customer_lifetime_value(bg, x, t_x, T, m, time=12, discount_rate=0.01, freq="W")
predict_s = time.perf_counter() - start
print(json.dumps({"fit_s": fit_s, "predict_s": predict_s, "bgnbd": dict(bg.params_), "gamma_gamma": dict(gg.params_)}))
