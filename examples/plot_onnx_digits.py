"""
==================================================
Deploying a digits pipeline with ONNX
==================================================

A pipeline that scales the digits, encodes them with an
:class:`~skae.AutoEncoder` and classifies the codes is exported with
:func:`skae.to_onnx` into one ONNX graph, which onnxruntime runs without
torch, skorch or scikit-learn. We check that the graph gives the same labels
and probabilities as the pipeline, and compare how long both take.
"""

# %%
# Train the pipeline
# ------------------
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoEncoder, to_onnx

X, y = load_digits(return_X_y=True)
# ONNX graphs usually take float32; the pipeline is trained on the same data.
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
pipe = make_pipeline(
    StandardScaler(),
    AutoEncoder(n_components=8, max_iter=50, random_state=0),
    LogisticRegression(max_iter=1000),
)
# 50 epochs keep the example short; the autoencoder has not converged yet.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    pipe.fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# Export and run it in onnxruntime
# --------------------------------
# ``X_sample`` only tells the converter the input's dtype and number of
# columns; the graph takes any number of rows. The file written by
# ``onx.SerializeToString()`` (or ``onnx.save``) is all a server needs.
onx = to_onnx(pipe, X_train[:1])
session = ort.InferenceSession(
    onx.SerializeToString(), providers=["CPUExecutionProvider"]
)
print("inputs:", [i.name for i in session.get_inputs()])
print("outputs:", [o.name for o in session.get_outputs()])

labels, probabilities = session.run(None, {"X": X_test})
print(f"labels equal to predict: {np.mean(labels == pipe.predict(X_test)):.1%}")
difference = np.abs(probabilities - pipe.predict_proba(X_test)).max()
print(f"largest probability difference: {difference:.1e}")

# %%
# Compare the time
# ----------------
# On many rows at once, as a batch-scoring job would; each the best of 5.
X_many = np.resize(X_test, (50_000, X.shape[1]))


def best_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


times = {
    "Pipeline.predict_proba": best_time(lambda: pipe.predict_proba(X_many)),
    "onnxruntime": best_time(lambda: session.run(None, {"X": X_many})),
}
for name, seconds in times.items():
    print(f"{name}: {seconds * 1000:.0f} ms for {len(X_many):,} rows")

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.barh(list(times), [seconds * 1000 for seconds in times.values()])
ax.set_xlabel(f"milliseconds for {len(X_many):,} rows")
ax.set_title("Same predictions, two runtimes")
fig.tight_layout()
plt.show()

# %%
# The timings vary from machine to machine; ``benchmarks/bench_onnx.py``
# measures them with repeats. Part of the difference comes from skae's
# ``transform``, which computes in float64 on the CPU so that a sample's code
# does not depend on its batch, while the graph computes in float32: both
# agree to about 1e-5.
