import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from rtgs2.scene.sh import eval_sh, num_sh_bases, sh_basis, sh_degree_from_bases


def direct_real_sh(degree: int, dirs: np.ndarray) -> np.ndarray:
    """Real SH from scipy's complex ones (with the Condon-Shortley phase), ordered m = -l..l.

    Y_lm = sqrt2 Im(Y_l^|m|) for m < 0, Y_l^0 for m = 0, sqrt2 Re(Y_l^m) for m > 0: the
    convention whose first band is (-y, z, -x)·sqrt(3/4pi), as in the INRIA code.
    """
    theta = np.arccos(np.clip(dirs[:, 2], -1, 1))  # polar
    phi = np.arctan2(dirs[:, 1], dirs[:, 0])  # azimuth
    cols = []
    for l in range(degree + 1):
        for m in range(-l, l + 1):
            y = sph_harm_y(l, abs(m), theta, phi)
            cols.append(math.sqrt(2) * y.imag if m < 0 else (y.real if m == 0 else math.sqrt(2) * y.real))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_basis_matches_direct_formula(degree):
    rng = np.random.default_rng(degree)
    d = rng.standard_normal((500, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    ours = sh_basis(degree, torch.from_numpy(d)).numpy()
    np.testing.assert_allclose(ours, direct_real_sh(degree, d), atol=1e-12)  # float64: agrees to ~1e-15


def test_eval_sh_is_linear_in_coefficients_and_truncates():
    g = torch.Generator().manual_seed(0)
    sh = torch.randn(10, 16, 3, generator=g, dtype=torch.float64)
    d = torch.nn.functional.normalize(torch.randn(10, 3, generator=g, dtype=torch.float64), dim=1)
    full = eval_sh(3, sh, d)
    manual = torch.einsum("nk,nkc->nc", sh_basis(3, d), sh)
    torch.testing.assert_close(full, manual)
    torch.testing.assert_close(eval_sh(1, sh, d), eval_sh(1, sh[:, :4], d))
    with pytest.raises(ValueError, match="needs 16"):
        eval_sh(3, sh[:, :9], d)


def test_degree_bookkeeping():
    assert [num_sh_bases(d) for d in range(4)] == [1, 4, 9, 16]
    assert sh_degree_from_bases(9) == 2
    with pytest.raises(ValueError):
        sh_degree_from_bases(5)
