"""Multinomial logistic regression with an L2 penalty, fitted by Newton's method: the small
calibrated models (urgency, the out-of-domain score) whose features are few enough (tens) for
an exact Hessian. Plain numpy; the bias is not penalised."""

from __future__ import annotations

import numpy as np

from runtime.classify import softmax


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, lam: float,
                 sample_weight: np.ndarray | None = None, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Weights [D, K] and bias [K] minimising the weighted mean cross-entropy + lam/2 |W|^2."""
    x = np.asarray(x, np.float64)
    rows, dims = x.shape
    design = np.hstack([x, np.ones((rows, 1))])
    targets = np.eye(classes)[np.asarray(y, np.int64)]
    weight = np.ones(rows) if sample_weight is None else np.asarray(sample_weight, np.float64)
    weight = weight / weight.sum()
    penalty = np.full(dims + 1, lam)
    penalty[-1] = 1e-8  # the bias: only enough to keep the Hessian invertible
    theta = np.zeros((dims + 1, classes))

    def loss(t: np.ndarray) -> float:
        probs = softmax(design @ t)
        return float(-(weight * np.log(np.clip((probs * targets).sum(axis=1), 1e-300, None))).sum()
                     + 0.5 * (penalty[:, None] * t * t).sum())

    current = loss(theta)
    for _ in range(iterations):
        probs = softmax(design @ theta)
        gradient = design.T @ (weight[:, None] * (probs - targets)) + penalty[:, None] * theta
        hessian = np.zeros(((dims + 1) * classes, (dims + 1) * classes))
        for k in range(classes):
            for j in range(k, classes):
                curvature = probs[:, k] * ((k == j) - probs[:, j]) * weight
                block = design.T @ (design * curvature[:, None])
                hessian[k::classes, j::classes] = block
                hessian[j::classes, k::classes] = block
        hessian += np.diag(np.repeat(penalty, classes))
        step = np.linalg.solve(hessian, gradient.reshape(-1)).reshape(theta.shape)
        scale = 1.0
        while scale > 1e-4:  # backtracking: Newton can overshoot on separable data
            candidate = theta - scale * step
            value = loss(candidate)
            if value <= current:
                break
            scale /= 2
        else:
            break
        theta, previous, current = candidate, current, value
        if previous - current < 1e-10:
            break
    return theta[:-1], theta[-1]
