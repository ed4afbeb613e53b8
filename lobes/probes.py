"""Probe classifiers of fixed features: how much of a label a representation carries, without training an encoder.

- `centroid_accuracy`: nearest class centroid (no parameters);
- `linear_probe_accuracy`: multinomial logistic regression (convex: no seed).

Both standardize the features with the training set's statistics and return (accuracy, chance).
"""

import numpy as np
import torch


def _standardized(x_train, x_test):
    """Both feature sets scaled with the training set's per-dimension mean and std."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    return (x_train - mean) / std, (x_test - mean) / std


def _scored(classes, pred, y_test):
    """(accuracy, chance) of class indices `pred` against the labels `y_test`."""
    accuracy = float(np.mean([classes[p] == y for p, y in zip(pred, y_test)]))
    return accuracy, 1.0 / len(classes)


def centroid_accuracy(x_train, y_train, x_test, y_test):
    """(accuracy, chance) of nearest-centroid classification of `x_test`, features standardized on `x_train`."""
    x_train, x_test = _standardized(x_train, x_test)
    classes = sorted(set(y_train))
    y_train = np.array(y_train)
    centroids = np.stack([x_train[y_train == c].mean(0) for c in classes])
    pred = ((x_test[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return _scored(classes, pred, y_test)


def linear_probe_accuracy(x_train, y_train, x_test, y_test, l2=1e-3, max_iter=500):
    """(accuracy, chance) of a multinomial logistic regression on features standardized on `x_train`.

    Full-batch L-BFGS on the L2-regularized cross-entropy (a convex problem, so the result
    does not depend on a seed); `l2` weighs the squared weights against the mean loss.
    """
    x_train, x_test = _standardized(x_train, x_test)
    classes = sorted(set(y_train))
    index = {c: i for i, c in enumerate(classes)}
    x = torch.as_tensor(x_train, dtype=torch.float64)
    target = torch.tensor([index[c] for c in y_train])
    linear = torch.nn.Linear(x.shape[1], len(classes)).double()
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), target) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        pred = linear(torch.as_tensor(x_test, dtype=torch.float64)).argmax(1).tolist()
    return _scored(classes, pred, y_test)
