"""Trainable Gaussian parameters with one Adam group each, and the optimizer surgery that
densification needs (appending, removing and resetting Gaussians keeps Adam's moments aligned)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rtgs2.recon.config import ReconConfig
from rtgs2.scene.gaussians import GaussianScene

PARAM_NAMES = ("means", "quats", "log_scales", "opacity_logits", "sh_dc", "sh_rest")
ADAM_EPS = 1e-15  # the 3DGS optimiser's eps: tiny lrs on tiny gradients must still move


class GaussianParams:
    """The raw parameters of N Gaussians as ``nn.Parameter`` s plus their Adam optimizer.

    - ``means`` [N, 3], ``quats`` [N, 4], ``log_scales`` [N, 3], ``opacity_logits`` [N],
      ``sh_dc`` [N, 1, 3], ``sh_rest`` [N, (d+1)^2 - 1, 3] (the GaussianScene layout, split
      so that DC and higher bands get their own learning rates).
    """

    def __init__(self, scene: GaussianScene, config: ReconConfig, extent: float):
        self.params: dict[str, nn.Parameter] = {
            "means": nn.Parameter(scene.means.detach().clone()),
            "quats": nn.Parameter(scene.quats.detach().clone()),
            "log_scales": nn.Parameter(scene.log_scales.detach().clone()),
            "opacity_logits": nn.Parameter(scene.opacity_logits.detach().clone()),
            "sh_dc": nn.Parameter(scene.sh[:, :1].detach().clone()),
            "sh_rest": nn.Parameter(scene.sh[:, 1:].detach().clone()),
        }
        lrs = {
            "means": config.position_lr_init * extent,
            "quats": config.rotation_lr,
            "log_scales": config.scaling_lr,
            "opacity_logits": config.opacity_lr,
            "sh_dc": config.features_dc_lr,
            "sh_rest": config.features_rest_lr,
        }
        groups = [{"params": [self.params[n]], "lr": lrs[n], "name": n} for n in PARAM_NAMES]
        self.optimizer = torch.optim.Adam(groups, lr=0.0, eps=ADAM_EPS)

    def __getitem__(self, name: str) -> nn.Parameter:
        return self.params[name]

    @property
    def num_gaussians(self) -> int:
        return self.params["means"].shape[0]

    def scene(self) -> GaussianScene:
        """A GaussianScene view of the current parameters (in the autograd graph)."""
        p = self.params
        return GaussianScene(
            p["means"], p["quats"], p["log_scales"], p["opacity_logits"], torch.cat([p["sh_dc"], p["sh_rest"]], dim=1)
        )

    def set_lr(self, name: str, lr: float) -> None:
        self._group(name)["lr"] = lr

    # -- surgery ----------------------------------------------------------------------------
    def _group(self, name: str) -> dict:
        for g in self.optimizer.param_groups:
            if g["name"] == name:
                return g
        raise KeyError(name)

    def _swap(self, name: str, value: Tensor, moments: tuple[Tensor, Tensor] | None) -> None:
        """Replace parameter ``name`` by ``value``, moving its Adam state to the new tensor."""
        old = self.params[name]
        new = nn.Parameter(value.detach().contiguous())
        state = self.optimizer.state.pop(old, None)
        if state is not None and moments is not None:
            state["exp_avg"], state["exp_avg_sq"] = (m.contiguous() for m in moments)
            self.optimizer.state[new] = state
        self._group(name)["params"][0] = new
        self.params[name] = new

    def append(self, new: dict[str, Tensor]) -> None:
        """Add M Gaussians (a tensor per name, first dim M) with zero Adam moments."""
        for name in PARAM_NAMES:
            old, add = self.params[name], new[name]
            assert add.shape[1:] == old.shape[1:], f"{name}: appending {list(add.shape)} to {list(old.shape)}"
            st = self.optimizer.state.get(old)
            moments = None
            if st:
                moments = tuple(torch.cat([st[k], torch.zeros_like(add)]) for k in ("exp_avg", "exp_avg_sq"))
            self._swap(name, torch.cat([old.detach(), add.detach()]), moments)

    def keep(self, mask: Tensor) -> None:
        """Keep only the Gaussians where ``mask`` [N] bool is true (parameters and moments)."""
        assert mask.shape == (self.num_gaussians,), f"mask {list(mask.shape)} for N={self.num_gaussians}"
        for name in PARAM_NAMES:
            old = self.params[name]
            st = self.optimizer.state.get(old)
            moments = tuple(st[k][mask] for k in ("exp_avg", "exp_avg_sq")) if st else None
            self._swap(name, old.detach()[mask], moments)

    def reset(self, name: str, value: Tensor) -> None:
        """Overwrite one parameter (same shape) and zero its Adam moments."""
        old = self.params[name]
        assert value.shape == old.shape, f"{name}: reset to {list(value.shape)}, have {list(old.shape)}"
        st = self.optimizer.state.get(old)
        moments = (torch.zeros_like(value), torch.zeros_like(value)) if st else None
        self._swap(name, value, moments)

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "params": {n: p.detach().clone() for n, p in self.params.items()},
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        device = self.params["means"].device
        for name in PARAM_NAMES:
            self._swap(name, state["params"][name].to(device), None)
        self.optimizer.load_state_dict(state["optimizer"])
