"""recipes/PretextSelection/kernel_files.py: the K/L matrices in the original scripts' layout, written and read back."""

import os
import sys

import numpy as np
import pytest
import torch

from lobes.hsic import GroupBuckets, cosine_kernel, log_gaussian_kernel

SELECTION = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "PretextSelection")
sys.path.insert(0, SELECTION)
from kernel_files import l_path, read_layout, stored_kernels, write_group  # noqa: E402


def test_original_layout_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    ks = [cosine_kernel(torch.from_numpy(rng.normal(size=(8, 6)) + 3.0)).numpy() for _ in range(3)]
    values = [0.4 * np.tanh(rng.normal(size=(8, 2))) for _ in range(3)]
    k_dir, l_dir = str(tmp_path / "K"), str(tmp_path / "L")
    for g, (k, v) in enumerate(zip(ks, values)):
        z = torch.from_numpy(v)
        write_group(k_dir, l_dir, f"group{g}", k,
                    {name: log_gaussian_kernel(z[:, p], 0.05).numpy() for p, name in enumerate(["func", "noise"])})
    groups, features, read_k, read_l = read_layout(k_dir, l_dir)
    assert groups == ["group0", "group1", "group2"] and features == ["func", "noise"]
    np.testing.assert_allclose(read_k["group1"], ks[1])
    stored = stored_kernels(read_k, read_l, features, dtype=torch.float64).single_label_hsic()
    direct = GroupBuckets(ks, values, ["func", "noise"], dtype=torch.float64).single_label_hsic()
    assert torch.allclose(stored, direct, rtol=1e-5)  # float32 storage of log L

    np.save(l_path(l_dir, "group2", "noise"), np.zeros((5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"L_matrix_group2_noise\.npy is \(5, 5\) but .*K_matrix_group2\.npy"):
        read_layout(k_dir, l_dir)
    (tmp_path / "L" / "noise" / "L_matrix_group2_noise.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"L_matrix_group2_noise\.npy is missing"):
        read_layout(k_dir, l_dir)
    with pytest.raises(ValueError, match="contains '_'"):
        write_group(k_dir, l_dir, "bad_name", ks[0], {})
