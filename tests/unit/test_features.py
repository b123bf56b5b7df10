"""LogMel against transformers' WhisperFeatureExtractor, clip by clip: the contract a faster
featurizer must keep (today LogMel calls the extractor per clip; issue 6 wants a batched path)."""

import numpy as np
import pytest

from omnisched.data.audio import load_audio
from omnisched.models.features import LogMel


def _reference(log_mel: LogMel, waveform: np.ndarray) -> np.ndarray:
    return log_mel.extractor(
        waveform, sampling_rate=16000, padding=False, return_tensors="np"
    ).input_features[0]


def test_batched_features_match_the_extractor_on_synthesized_speech(small_corpus):
    paths = sorted((small_corpus / "train" / "audio").rglob("*.flac"))[:12]
    waveforms = [load_audio(path) for path in paths]
    log_mel = LogMel()
    features, mask = log_mel(waveforms)
    for row, waveform in enumerate(waveforms):
        expected = _reference(log_mel, waveform)
        frames = int(mask[row].sum())
        assert frames == expected.shape[1]
        np.testing.assert_allclose(features[row, :, :frames].numpy(), expected, atol=1e-3)
        assert not features[row, :, frames:].any()


@pytest.mark.parametrize("seed", range(5))
def test_features_do_not_depend_on_batch_neighbours(seed):
    rng = np.random.default_rng(seed)
    waveforms = [
        (rng.standard_normal(int(n)) * rng.uniform(0.01, 1)).astype(np.float32)
        for n in rng.integers(800, 48000, size=6)
    ]
    log_mel = LogMel()
    features, mask = log_mel(waveforms)
    for row, waveform in enumerate(waveforms):
        alone, _ = log_mel([waveform])
        frames = int(mask[row].sum())
        assert frames == len(waveform) // 160
        np.testing.assert_allclose(features[row, :, :frames], alone[0], atol=1e-5)
        np.testing.assert_allclose(
            features[row, :, :frames], _reference(log_mel, waveform), atol=1e-3
        )
