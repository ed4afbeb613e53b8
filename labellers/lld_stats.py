"""Per-feature statistics of LLD tracks and the normalization that uses them.

OpenSMILE emits NaN/inf for some LLDs on silence. Non-finite values are counted
per column, left out of the statistics, and replaced by the feature mean (0
after normalization), the same way at every use.

Example
-------
>>> import numpy as np
>>> stats = FeatureStats(["a", "b"])
>>> stats.update(np.array([[1.0, 10.0], [3.0, np.nan]]))
>>> stats.mean().tolist(), stats.nonfinite.tolist()
([2.0, 10.0], [0, 1])
"""

import numpy as np


class FeatureStats:
    """Running count/sum/sum of squares per column; shards merge by addition."""

    def __init__(self, columns):
        self.columns = list(columns)
        d = len(self.columns)
        self.count = np.zeros(d, np.int64)
        self.total = np.zeros(d, np.float64)
        self.total_sq = np.zeros(d, np.float64)
        self.nonfinite = np.zeros(d, np.int64)
        self.frames = 0

    def update(self, frames):
        frames = np.asarray(frames, np.float64)
        finite = np.isfinite(frames)
        values = np.where(finite, frames, 0.0)
        self.count += finite.sum(0)
        self.total += values.sum(0)
        self.total_sq += (values ** 2).sum(0)
        self.nonfinite += (~finite).sum(0)
        self.frames += len(frames)

    def merge(self, other):
        if other.columns != self.columns:
            raise ValueError("cannot merge statistics of different feature columns")
        for key in ("count", "total", "total_sq", "nonfinite"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.frames += other.frames
        return self

    def mean(self):
        return self.total / np.maximum(self.count, 1)

    def std(self):
        var = self.total_sq / np.maximum(self.count, 1) - self.mean() ** 2
        # A constant column would divide by zero: leave it unscaled.
        return np.where(var > 1e-12, np.sqrt(np.maximum(var, 0.0)), 1.0)

    def to_dict(self):
        return {"columns": self.columns, "frames": int(self.frames), "count": self.count.tolist(),
                "total": self.total.tolist(), "total_sq": self.total_sq.tolist(),
                "nonfinite": self.nonfinite.tolist(), "mean": self.mean().tolist(), "std": self.std().tolist()}

    @classmethod
    def from_dict(cls, data):
        stats = cls(data["columns"])
        stats.frames = data["frames"]
        for key in ("count", "total", "total_sq", "nonfinite"):
            setattr(stats, key, np.asarray(data[key], getattr(stats, key).dtype))
        return stats


def normalize(frames, mean, std):
    """(frames - mean) / std with non-finite values set to 0 (the mean)."""
    out = (np.asarray(frames, np.float64) - mean) / std
    return np.where(np.isfinite(out), out, 0.0).astype(np.float32)
