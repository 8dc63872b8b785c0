import numpy as np

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.eval.probe import gaussian_labels, half_split, linear_probe


def test_probe_reads_useful_features_and_not_noise():
    rng = np.random.default_rng(0)
    n, k = 4000, 5
    y = rng.integers(0, k, n).astype(np.uint8)
    xyz = rng.random((n, 3)) * [6, 3, 2]
    useful = np.eye(k)[y] + 0.3 * rng.normal(size=(n, k))
    noise = rng.normal(size=(n, k))
    split = half_split(xyz)
    assert 0.45 < split.mean() < 0.55
    assert linear_probe(useful, y, split, k)["miou"] > 0.9
    assert linear_probe(noise, y, split, k)["miou"] < 0.3


def test_voted_labels_match_the_surfaces_they_sample(synthrooms_mini):
    """Surface Gaussians of a mini room know their primitive, hence their class: the votes of
    the views must agree with it."""
    from rtgs2.data.readers.synthrooms import open_synthrooms
    from rtgs2.synth.build import make_scene
    from rtgs2.synth.config import preset_config
    from rtgs2.synth.gaussians import surface_gaussians

    ds = open_synthrooms(synthrooms_mini)
    views = ds.train[0]
    seed = next(s["seed"] for s in ds.manifest["scenes"] if s["name"] == views.name)
    room, _ = make_scene(seed, preset_config("mini"))
    scene, prim = surface_gaussians(room, preset_config("mini").surface_spacing)
    truth = room.label[prim]
    voted = gaussian_labels(scene, views, ds.label_map.num_classes)
    labelled = voted != IGNORE_LABEL
    assert labelled.mean() > 0.5
    agree = (voted[labelled] == truth[labelled]).mean()
    print(f"{labelled.mean():.2f} of Gaussians labelled, {agree:.3f} agree with their surface")
    assert agree > 0.9
