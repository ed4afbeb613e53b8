"""K and L matrices on disk in the layout of the original selection scripts (select_tasks.py writes them,
exp_optimizing.py reads them back).

    <K_dir>/K_matrix_<group>.npy                       [n, n] speech similarity of one group
    <L_dir>/<feature>/L_matrix_<group>_<feature>.npy   [n, n] log L of one pseudo-label, clamped to [-10, 0]

Group names carry no '_' (the original scripts split file names on it).
"""

import glob
import os

import numpy as np
import torch

from labellers.lld_store import save_array
from lobes.hsic import StoredLogKernels, stack_by_size

K_PREFIX = "K_matrix_"


def k_path(k_dir, group):
    return os.path.join(k_dir, f"{K_PREFIX}{group}.npy")


def l_path(l_dir, group, feature):
    return os.path.join(l_dir, feature, f"L_matrix_{group}_{feature}.npy")


def write_group(k_dir, l_dir, group, k, log_l_by_feature):
    """Writes one group's K and its log L per feature (atomically, so a killed run leaves no half file)."""
    if "_" in group:
        raise ValueError(f"group name {group!r} contains '_', which the original layout cannot parse")
    for feature, log_l in log_l_by_feature.items():
        save_array(l_path(l_dir, group, feature), np.asarray(log_l, dtype=np.float32))
    save_array(k_path(k_dir, group), np.asarray(k, dtype=np.float64))  # last: marks the group done


def read_layout(k_dir, l_dir, features=None):
    """-> (groups, features, {group: K [n, n]}, {group: log L [P, n, n]}), checked for consistency."""
    if not os.path.isdir(k_dir):
        raise FileNotFoundError(f"K matrix folder {k_dir} does not exist")
    if not os.path.isdir(l_dir):
        raise FileNotFoundError(f"L matrix folder {l_dir} does not exist")
    k_files = sorted(glob.glob(os.path.join(k_dir, f"{K_PREFIX}*.npy")))
    if not k_files:
        raise FileNotFoundError(f"no {K_PREFIX}<group>.npy files in {k_dir}")
    groups = [os.path.basename(f)[len(K_PREFIX):-len(".npy")] for f in k_files]
    features = sorted(features or [d for d in os.listdir(l_dir) if os.path.isdir(os.path.join(l_dir, d))])
    if not features:
        raise FileNotFoundError(f"no <feature>/ folders of L matrices in {l_dir}")
    ks, log_ls = {}, {}
    for group, k_file in zip(groups, k_files):
        k = np.load(k_file)
        if k.ndim != 2 or k.shape[0] != k.shape[1]:
            raise ValueError(f"{k_file}: K must be a square matrix, got shape {k.shape}")
        mats = []
        for feature in features:
            path = l_path(l_dir, group, feature)
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} is missing: every group of {k_dir} needs an L matrix "
                                        f"for every feature folder of {l_dir}")
            log_l = np.load(path)
            if log_l.shape != k.shape:
                raise ValueError(f"shape mismatch: {path} is {log_l.shape} but {k_file} is {k.shape}")
            mats.append(log_l)
        ks[group], log_ls[group] = k, np.stack(mats)
    known = set(groups)
    for feature in features:
        for path in glob.glob(os.path.join(l_dir, feature, "L_matrix_*.npy")):
            group = os.path.basename(path)[len("L_matrix_"):-len(f"_{feature}.npy")]
            if group not in known:
                raise ValueError(f"{path} has no K matrix ({k_path(k_dir, group)} is missing)")
    return groups, features, ks, log_ls


def stored_kernels(ks, log_ls, features, original_centering=False, dtype=torch.float32):
    """Buckets the read matrices by group size for `lobes.hsic.optimize_weights`."""
    groups = list(ks)
    k_centered, log_l = stack_by_size([ks[g] for g in groups], [log_ls[g] for g in groups],
                                      original_centering, dtype)
    return StoredLogKernels(k_centered, log_l, features)
