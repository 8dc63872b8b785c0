"""The image-only fallback: a model whose card has its training features' statistics and names
an image-only model gives way to it on a scene whose features are out of that distribution."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rtgs2.fusion.io import save_fusion
from rtgs2.fusion.shift import feature_stats
from rtgs2.fusion.vdvi import build_fusion
from rtgs2.pipeline.segmenter import Segmenter
from rtgs2.utils.errors import MissingFileError, Rtgs2Error
from tests.pipeline.conftest import donut_camera


@pytest.fixture
def featured(small_donut):
    g = torch.Generator().manual_seed(0)
    return small_donut.with_features(torch.randn(small_donut.num_gaussians, 32, generator=g))


def _model_with_card(tmp_path, fusion_file, training_features, **card):
    """The random 'both' model copied into tmp_path, its card holding the stats of
    ``training_features`` and ``card``'s entries; the random image-only model beside it."""
    weights = tmp_path / "both.pt"
    shutil.copy(fusion_file("both"), weights)
    shutil.copy(fusion_file("image"), tmp_path / "image.pt")
    entry = {"feature_stats": feature_stats([training_features]).to_json(), **card}
    weights.with_suffix(".json").write_text(json.dumps(entry))
    return weights


def test_in_distribution_the_model_asked_for_labels(tmp_path, fusion_file, featured):
    weights = _model_with_card(tmp_path, fusion_file, featured.features, image_fallback="image.pt")
    seg = Segmenter.from_files(featured, weights)
    assert seg.fallback is None and seg.needs_features and seg.scene.features is not None
    assert seg.feature_shift.offset < 1e-6 and seg.feature_shift.spread == pytest.approx(1.0)


def test_out_of_distribution_the_image_only_fallback_labels_and_says_so(tmp_path, fusion_file, featured):
    weights = _model_with_card(tmp_path, fusion_file, featured.features + 2.0, image_fallback="image.pt")
    seg = Segmenter.from_files(featured, weights)
    assert seg.feature_shift.out_of_distribution and seg.feature_shift.offset == pytest.approx(2.0, abs=0.1)
    assert "image-only model image.pt" in seg.fallback and "std-devs off" in seg.fallback
    assert not seg.needs_features and seg.model.config["inputs"] == "image"
    reference = Segmenter.from_files(featured, tmp_path / "image.pt")  # the fallback asked for by name
    cam = donut_camera()
    assert torch.equal(seg.segment(cam).labels, reference.segment(cam).labels)


def test_without_the_fallback_the_model_asked_for_labels_with_a_warning(tmp_path, fusion_file, featured):
    weights = _model_with_card(tmp_path, fusion_file, featured.features + 2.0, image_fallback="image.pt")
    with pytest.warns(UserWarning, match="std-devs off.*labels of fusion model both.pt may be poor"):
        seg = Segmenter.from_files(featured, weights, image_fallback=False)
    assert seg.fallback is None and seg.needs_features
    (tmp_path / "plain").mkdir()
    no_entry = _model_with_card(tmp_path / "plain", fusion_file, featured.features + 2.0)  # a card naming no fallback
    with pytest.warns(UserWarning, match="may be poor"):
        assert Segmenter.from_files(featured, no_entry).fallback is None


def test_a_card_without_statistics_changes_nothing(tmp_path, fusion_file, featured):
    seg = Segmenter.from_files(featured, fusion_file("both"))
    assert seg.feature_shift is None and seg.fallback is None and seg.needs_features


def test_a_missing_or_wrong_fallback_is_refused_by_name(tmp_path, fusion_file, featured):
    weights = _model_with_card(tmp_path, fusion_file, featured.features + 2.0, image_fallback="gone.pt")
    with pytest.raises(MissingFileError, match="names the image-only fallback .*gone.pt, which is missing"):
        Segmenter.from_files(featured, weights)
    other = tmp_path / "other.pt"
    save_fusion(build_fusion("small", "image", num_classes=3, class_names=["a", "b", "c"]), other)
    weights = _model_with_card(tmp_path, fusion_file, featured.features + 2.0, image_fallback="other.pt")
    with pytest.raises(Rtgs2Error, match="not an image-only model of the same classes"):
        Segmenter.from_files(featured, weights)
    weights = _model_with_card(tmp_path, fusion_file, featured.features + 2.0, image_fallback="both.pt")
    with pytest.raises(Rtgs2Error, match="inputs 'both'"):
        Segmenter.from_files(featured, weights)
