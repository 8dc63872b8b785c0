"""The PTv3-style network: every variant's shapes, gradients, batch isolation and invariance
to the input's point order."""

from typing import get_args, get_type_hints

import pytest
import torch

from rtgs2.features.points import offset_to_batch
from rtgs2.features.ptv3 import SIZES, VARIANTS, PTv3Config, patch_layout, ptv3_paper, ptv3_small
from rtgs2.features.serialization import serialize
from rtgs2.train.config import FeatureTrainConfig


def _cloud(n: int, seed: int, extent: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    coord = torch.rand(n, 3, generator=g) * torch.tensor([extent, extent, 2.5])
    return coord, torch.randn(n, 10, generator=g) * 0.5


TINY = dict(enc_patch=(16, 16, 16, 16, 16), dec_patch=(16, 16, 16, 16), grid_size=0.2, drop_path=0.0)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_shape_finite_and_all_parameters_get_gradients(name):
    torch.manual_seed(0)
    overrides = dict(TINY) if name == "paper" else dict(grid_size=0.2)
    if name == "paper":  # the paper's widths at a tiny depth, so the test stays quick
        overrides.update(enc_depths=(1, 1, 1, 1, 1), dec_depths=(1, 1, 1, 1))
    model = VARIANTS[name](**overrides)
    c1, f1 = _cloud(900, 1)
    c2, f2 = _cloud(700, 2)
    out = model(torch.cat([c1, c2]), torch.cat([f1, f2]), torch.tensor([900, 1600]))
    assert out.shape == (1600, 32) and bool(torch.isfinite(out).all())
    torch.testing.assert_close(out.norm(dim=1), torch.ones(1600))
    (out * torch.randn_like(out)).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert no_grad == []


def test_patch_layout_never_mixes_samples():
    counts = torch.tensor([10, 7, 16])
    source, slot = patch_layout(counts, 4)
    starts = torch.cumsum(counts, 0) - counts
    sample_of = offset_to_batch(torch.cumsum(counts, 0))
    patches = source.view(-1, 4)
    assert all(len(set(sample_of[p].tolist())) == 1 for p in patches)  # one sample per patch
    assert torch.equal(source[slot], torch.arange(int(counts.sum())))  # every point read back from its own slot
    assert len(source) == 12 + 8 + 16 and int(starts[1]) == 10


def test_attention_of_one_sample_ignores_the_others():
    """A sample's output must not change when another sample joins the batch."""
    torch.manual_seed(0)
    model = ptv3_small(grid_size=0.2).eval()
    c1, f1 = _cloud(800, 3)
    c2, f2 = _cloud(500, 4)
    with torch.no_grad():
        alone = model(c1, f1, torch.tensor([800]))
        both = model(torch.cat([c1, c2]), torch.cat([f1, f2]), torch.tensor([800, 1300]))
    torch.testing.assert_close(both[:800], alone, atol=2e-5, rtol=0)


def test_output_does_not_depend_on_the_point_order():
    torch.manual_seed(0)
    model = ptv3_small(grid_size=0.2).eval()
    coord, feat = _cloud(1500, 5)
    perm = torch.randperm(1500, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        a = model(coord, feat, torch.tensor([1500]))
        b = model(coord[perm], feat[perm], torch.tensor([1500]))
    torch.testing.assert_close(b, a[perm], atol=2e-5, rtol=0)  # float sums of voxel means differ in order only


def test_pooling_halves_the_grid_and_unpooling_restores_the_points():
    from rtgs2.features.points import grid_sample
    from rtgs2.features.ptv3 import SerializedPooling, SerializedUnpooling

    coord, feat = _cloud(2000, 6)
    vox, _ = grid_sample(coord, feat, torch.zeros(2000, dtype=torch.long), 0.1)
    vox = serialize(vox, ["z", "hilbert"])
    pool = SerializedPooling(10, 16, shuffle_orders=False)
    coarse, trace = pool(vox)
    assert sorted(map(tuple, coarse.grid_coord.tolist())) == sorted(set(map(tuple, (vox.grid_coord >> 1).tolist())))
    assert torch.equal(coarse.grid_coord[trace.cluster], vox.grid_coord >> 1)  # each child's parent holds it
    assert coarse.serialized_depth == vox.serialized_depth - 1
    fine = SerializedUnpooling(16, 10, 8)(coarse, trace)
    assert fine.feat.shape == (len(vox.coord), 8) and torch.equal(fine.grid_coord, vox.grid_coord)


def test_config_rejects_inconsistent_sizes():
    with pytest.raises(ValueError, match="enc_channels"):
        PTv3Config(enc_channels=(32, 64))
    with pytest.raises(ValueError, match="orders"):
        PTv3Config(orders=("spiral",))


def test_variants_are_named_once_and_take_overrides():
    assert list(VARIANTS) == list(SIZES)
    # the training config lists the names again, without torch, for the CLI's --help
    assert set(get_args(get_type_hints(FeatureTrainConfig)["size"])) == set(VARIANTS)
    assert ptv3_paper().cfg == PTv3Config() and ptv3_small().cfg == SIZES["small"]
    for name, make in VARIANTS.items():
        assert make(grid_size=0.2).cfg == PTv3Config(**{**SIZES[name].to_json(), "grid_size": 0.2})
        assert make().cfg.name == name
    with pytest.raises(ValueError, match="PTv3Config.grid_size"):
        ptv3_small(grid_size=0.0)
