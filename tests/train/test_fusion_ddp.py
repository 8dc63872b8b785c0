"""DDP of the fusion trainer: two gloo processes, one view each, give the gradients of one
process averaging the two views' losses (CE and CeCo are per-rank terms, as in the trainer)."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rtgs2.fusion.losses import FusionLoss, FusionLossConfig
from rtgs2.fusion.vdvi import build_fusion
from rtgs2.train.fusion import _WithEmbedding

K, H, W = 5, 48, 64


def _views() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    views = []
    for _ in range(2):
        labels = torch.randint(0, K, (1, H, W), generator=g)
        labels[:, :4] = 255  # some ignored pixels, a different share per view
        views.append((torch.rand(1, 3, H, W, generator=g), torch.randn(1, 32, H // 4, W // 4, generator=g), labels))
        g.manual_seed(1)
    return views


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_fusion("small", "both", num_classes=K)


def _loss(model: torch.nn.Module) -> FusionLoss:
    return FusionLoss(FusionLossConfig(), K, model.embedding_dim)


def _worker(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = _model()
    net = torch.nn.parallel.DistributedDataParallel(_WithEmbedding(model))
    image, features, labels = _views()[rank]
    torch.manual_seed(10 + rank)  # drop path: the draws the single process makes for this view
    _loss(model)(net(image, features), labels)["total"].backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in model.named_parameters()}, out)
    dist.barrier()  # no rank tears the group down while another still writes (gloo aborted there now and then)
    dist.destroy_process_group()


def test_two_gloo_processes_match_one(tmp_path):
    torch.set_num_threads(1)
    model = _model()
    loss_fn, total = _loss(model), 0.0
    for rank, (image, features, labels) in enumerate(_views()):
        torch.manual_seed(10 + rank)
        total = total + loss_fn(model.forward_with_embedding(image, features), labels)["total"] / 2
    total.backward()
    out = tmp_path / "grads.pt"
    mp.spawn(_worker, args=(f"file://{tmp_path / 'pg'}", str(out)), nprocs=2, join=True)
    ddp = torch.load(out)
    assert set(ddp) == {n for n, _ in model.named_parameters()}
    for n, p in model.named_parameters():
        assert ddp[n] is not None, n
        torch.testing.assert_close(ddp[n], p.grad, atol=1e-6, rtol=1e-4, msg=n)
