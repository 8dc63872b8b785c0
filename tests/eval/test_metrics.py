import torch

from rtgs2.eval import metrics
from rtgs2.recon import losses


def test_metrics_reexport_the_one_ssim_and_psnr():
    assert metrics.ssim is losses.ssim and metrics.psnr is losses.psnr
    g = torch.Generator().manual_seed(0)
    a = torch.rand(20, 20, 3, generator=g)
    assert float(metrics.ssim(a, a)) > 0.999999
    assert float(metrics.ssim(a, torch.rand(20, 20, 3, generator=g))) < 0.5
