"""DDP: two gloo processes, one view pair each, give the gradients of one process on both."""

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rtgs2.features.ptv3 import ptv3_small
from rtgs2.train.config import FeatureTrainConfig
from rtgs2.train.features import pair_loss

CFG = FeatureTrainConfig(num_correspondences=256)


def _pairs():
    g = np.random.default_rng(0)
    from rtgs2.features.inputs import GaussianArrays

    def sample(ids):
        n = len(ids)
        return GaussianArrays(
            (g.random((n, 3)) * [3, 3, 2]).astype(np.float32), g.random((n, 3)).astype(np.float32),
            (g.normal(-4.5, 0.5, (n, 3))).astype(np.float32), g.random(n).astype(np.float32), ids,
        )  # fmt: skip

    return [(sample(np.arange(0, 700)), sample(np.arange(300, 900))), (sample(np.arange(0, 500)), sample(np.arange(100, 650)))]


def _model():
    torch.manual_seed(0)
    return ptv3_small(grid_size=0.25, drop_path=0.0, shuffle_orders=False)


def _worker(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.set_num_threads(1)
    net = torch.nn.parallel.DistributedDataParallel(_model())
    loss, _ = pair_loss(net, [_pairs()[rank]], CFG, np.random.default_rng(rank))
    loss.backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in net.module.named_parameters()}, out)
    dist.barrier()  # no rank tears the group down while another still writes (gloo aborted there now and then)
    dist.destroy_process_group()


def test_two_gloo_processes_match_one(tmp_path):
    torch.set_num_threads(1)
    model = _model()
    # One process, both pairs: the same correspondence draws as the ranks make (rng per pair).
    losses = [pair_loss(model, [p], CFG, np.random.default_rng(r))[0] for r, p in enumerate(_pairs())]
    torch.stack(losses).mean().backward()
    out = tmp_path / "grads.pt"
    mp.spawn(_worker, args=(f"file://{tmp_path / 'pg'}", str(out)), nprocs=2, join=True)
    ddp = torch.load(out)
    for n, p in model.named_parameters():
        torch.testing.assert_close(ddp[n], p.grad, atol=1e-6, rtol=1e-4, msg=n)
