"""Fusion training data: which views train and validate, rendered samples and the view
augmentations."""

import numpy as np
import torch

from rtgs2.data.view_transforms import (
    Cutout,
    DropFeatures,
    HorizontalFlip,
    HueRotation,
    PhotometricJitter,
    RandomZoomCrop,
    ViewSample,
    hue_rotation_matrix,
)


def _sample(h: int = 12, w: int = 16, d: int = 4) -> ViewSample:
    """A view whose every pixel is told apart by its column (image, features, labels, depth)."""
    cols = torch.arange(w, dtype=torch.float32).expand(h, w)
    return ViewSample(
        image=(cols / w)[..., None].repeat(1, 1, 3),
        features=cols[..., None].repeat(1, 1, d),
        labels=cols.to(torch.uint8),
        depth=cols + 1.0,
    )


def test_flip_moves_everything_together_and_colour_touches_the_image_only():
    s = _sample()
    f = HorizontalFlip(p=1.0)(s, np.random.default_rng(0))
    assert torch.equal(f.labels[:, 0], s.labels[:, -1]) and torch.equal(f.features[..., 0], f.labels.float())
    assert torch.equal(f.depth, f.labels.float() + 1) and torch.equal(f.image[..., 0], f.labels / 16.0)
    assert HorizontalFlip(p=0.0)(s, np.random.default_rng(0)) is s
    j = PhotometricJitter(0.5)(s, np.random.default_rng(0))
    assert not torch.equal(j.image, s.image) and j.image.min() >= 0 and j.image.max() <= 1
    assert j.features is s.features and j.labels is s.labels and j.depth is s.depth


def test_hue_rotation_keeps_grey_and_saturation_and_cycles_the_primaries():
    third = hue_rotation_matrix(2 * np.pi / 3)  # a third of a turn maps red to green to blue
    assert torch.allclose(third @ torch.tensor([1.0, 0, 0]), torch.tensor([0.0, 1, 0]), atol=1e-6)
    assert torch.allclose(third @ torch.tensor([0.0, 1, 0]), torch.tensor([0.0, 0, 1]), atol=1e-6)
    colours = torch.rand(100, 3, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    turned = colours @ hue_rotation_matrix(0.7).T
    assert torch.allclose(turned.mean(-1), colours.mean(-1), atol=1e-6)  # grey level kept
    spread = lambda c: (c - c.mean(-1, keepdim=True)).norm(dim=-1)  # noqa: E731 - distance from grey
    assert torch.allclose(spread(turned), spread(colours), atol=1e-6) and not torch.allclose(turned, colours, atol=0.05)
    s = _sample()
    s = ViewSample(torch.rand(12, 16, 3, generator=torch.Generator().manual_seed(1)), s.features, s.labels, s.depth)
    h = HueRotation(90.0)(s, np.random.default_rng(0))
    assert not torch.allclose(h.image, s.image) and h.image.min() >= 0 and h.image.max() <= 1
    assert h.features is s.features and h.labels is s.labels and h.depth is s.depth
    assert torch.allclose(HueRotation(0.0)(s, np.random.default_rng(0)).image, s.image, atol=1e-6)


def test_zoom_crop_keeps_pixels_aligned_and_pads_with_ignored_labels():
    s = _sample()
    same = RandomZoomCrop(12, 16)(s, np.random.default_rng(0))
    assert all(torch.equal(getattr(same, k), getattr(s, k)) for k in ("image", "features", "labels", "depth"))
    crop = RandomZoomCrop(8, 10, 0.6, 1.8)
    for seed in range(20):
        c = crop(s, np.random.default_rng(seed))
        assert c.image.shape == (8, 10, 3) and c.features.shape == (8, 10, 4) and c.labels.dtype == torch.uint8
        kept = c.labels != 255
        # labels and depth are sampled (nearest) at the same source pixels: depth = label + 1
        assert torch.equal(c.depth[kept], c.labels[kept].float() + 1) and (c.depth[~kept] == 0).all()
        assert set(c.labels.unique().tolist()) <= set(range(16)) | {255}
    small = RandomZoomCrop(20, 24)(s, np.random.default_rng(0))  # larger than the view: padded
    assert (small.labels == 255).sum() == 20 * 24 - 12 * 16 and (small.image[small.labels == 255] == 0).all()


def test_cutout_hides_the_same_square_in_image_and_features_only():
    s = _sample()
    s = ViewSample(torch.ones_like(s.image), torch.ones_like(s.features), s.labels, s.depth)
    c = Cutout(0.5)(s, np.random.default_rng(0))
    hidden = (c.image == 0).all(-1)
    assert hidden.sum() == 6 * 6 and (c.image[~hidden] == 1).all()  # side 0.5 x 12 px
    assert torch.equal((c.features == 0).all(-1), hidden) and (c.features[~hidden] == 1).all()
    assert torch.equal(c.labels, s.labels) and torch.equal(c.depth, s.depth)


def test_feature_dropout_zeroes_a_whole_feature_image_at_its_rate_and_nothing_else():
    s = _sample()
    gone = DropFeatures(1.0)(s, np.random.default_rng(0))
    assert gone.features.shape == s.features.shape and not gone.features.any()
    assert gone.image is s.image and gone.labels is s.labels and gone.depth is s.depth
    assert DropFeatures(0.0)(s, np.random.default_rng(0)) is s
    image_only = ViewSample(s.image, None, s.labels, s.depth)
    assert DropFeatures(1.0)(image_only, np.random.default_rng(0)) is image_only
    rng = np.random.default_rng(1)
    dropped = sum(DropFeatures(0.3)(s, rng) is not s for _ in range(2000))
    assert 0.26 < dropped / 2000 < 0.34


def test_feature_dropout_is_the_last_augmentation_and_only_for_the_full_model():
    import pytest

    from rtgs2.train.config import FusionTrainConfig
    from rtgs2.train.fusion_data import augmentation

    assert isinstance(augmentation(FusionTrainConfig(feature_dropout=0.3)).transforms[-1], DropFeatures)
    assert not any(isinstance(t, DropFeatures) for t in augmentation(FusionTrainConfig()).transforms)
    with pytest.raises(ValueError, match="feature_dropout"):
        FusionTrainConfig(inputs="image", feature_dropout=0.3)
    with pytest.raises(ValueError, match="feature_dropout"):
        FusionTrainConfig(feature_dropout=1.0)
    hue = [type(t) for t in augmentation(FusionTrainConfig(hue_rotation=30.0)).transforms]
    assert hue.index(HueRotation) == hue.index(PhotometricJitter) + 1 and HueRotation not in [
        type(t) for t in augmentation(FusionTrainConfig()).transforms
    ]  # off by default: the recipe of the shipped models draws the same numbers as before
    with pytest.raises(ValueError, match="hue_rotation"):
        FusionTrainConfig(hue_rotation=200.0)


def test_views_split_into_training_and_held_out_and_test_scenes_stay_out(synthrooms_mini):
    from rtgs2.train.fusion import training_scenes
    from rtgs2.train.fusion_data import draw_batch, load_fusion_scene, render_sample, training_pool

    scenes, names = training_scenes(synthrooms_mini)
    assert [s.name for s in scenes] == ["train_000", "train_001"] and len(names) == 17
    loaded = [load_fusion_scene(v, None, torch.device("cpu")) for v in scenes]
    assert loaded[0].held_out_views == [0, 8] and loaded[0].train_views == [i for i in range(16) if i % 8]
    pool = training_pool(loaded)
    assert len(pool) == 28 and not any(v % 8 == 0 for _, v in pool)
    draws = [draw_batch(pool, 4, np.random.default_rng(s)) for s in range(10)]
    assert draws[3] == draw_batch(pool, 4, np.random.default_rng(3))  # seeded
    assert all(len(set(d)) == 4 for d in draws) and any(len({s for s, _ in d}) == 2 for d in draws)  # mixed

    sample = render_sample(loaded[0], 3)
    assert torch.equal(sample.labels, scenes[0].labels[3]) and sample.features is None
    psnr = [-10 * np.log10(float(((sample.image - scenes[0].images[v]) ** 2).mean())) for v in (3, 2, 11)]
    print("render of view 3 vs the data set's views 3, 2, 11: PSNR " + ", ".join(f"{p:.1f}" for p in psnr))
    assert psnr[0] > max(psnr[1:]) + 3  # measured 21.3 vs 16.4, 15.6 dB: rendered at its own camera
