"""LogMel's batched torch featurizer against transformers' WhisperFeatureExtractor clip by clip."""

import numpy as np
import pytest
import torch
from transformers import WhisperFeatureExtractor

from omnisched.data.audio import load_audio
from omnisched.errors import OmnischedError
from omnisched.models.features import LogMel


def _reference(log_mel: LogMel, waveform: np.ndarray) -> np.ndarray:
    return log_mel.extractor(
        waveform, sampling_rate=16000, padding=False, return_tensors="np"
    ).input_features[0]


@pytest.fixture(scope="module")
def speech(small_corpus) -> list[np.ndarray]:
    """Synthesized utterances of different lengths, plus cuts of one at awkward lengths: just
    over the STFT's half window, a whole number of hops, one sample short of one."""
    paths = sorted((small_corpus / "train" / "audio").rglob("*.flac"))[:10]
    clips = [load_audio(path) for path in paths]
    return [*clips, clips[0][:201], clips[1][: 160 * 57], clips[2][: 160 * 90 - 1]]


def _assert_matches_extractor(log_mel: LogMel, waveforms: list[np.ndarray]) -> None:
    features, mask = log_mel(waveforms)
    assert features.shape[:2] == (len(waveforms), log_mel.extractor.feature_size)
    for row, waveform in enumerate(waveforms):
        expected = _reference(log_mel, waveform)
        frames = len(waveform) // log_mel.extractor.hop_length
        assert expected.shape[1] == frames
        assert mask[row].tolist() == [1] * frames + [0] * (mask.shape[1] - frames)
        np.testing.assert_allclose(features[row, :, :frames].numpy(), expected, atol=1e-3)
        assert not features[row, :, frames:].any()


def test_batched_features_match_the_extractor_on_synthesized_speech(speech):
    lengths = {len(w) for w in speech}
    assert len(lengths) == len(speech)
    _assert_matches_extractor(LogMel(), speech)


def test_a_checkpoints_own_extractor_settings_apply(speech):
    """Whisper's 80 mels and another STFT: LogMel follows the extractor it is given."""
    extractor = WhisperFeatureExtractor(
        feature_size=80, sampling_rate=16000, n_fft=512, hop_length=128
    )
    _assert_matches_extractor(LogMel(extractor), speech[:4])


def test_a_clip_featurizes_the_same_alone_and_beside_longer_clips(speech):
    log_mel = LogMel()
    by_length = sorted(speech[:10], key=len)
    features, mask = log_mel(by_length)
    for row, waveform in enumerate(by_length):
        alone, alone_mask = log_mel([waveform])
        frames = int(mask[row].sum())
        assert alone.shape[2] == frames == int(alone_mask.sum())
        assert features.shape[2] > frames or row == len(by_length) - 1
        torch.testing.assert_close(features[row, :, :frames], alone[0], atol=1e-6, rtol=0)


def test_fixed_frames_pad_and_never_truncate(speech):
    features, mask = LogMel(frames=3000)(speech[:3])
    longest, longest_mask = LogMel()(speech[:3])
    assert features.shape == (3, 128, 3000)
    frames = longest.shape[2]
    torch.testing.assert_close(features[:, :, :frames], longest)
    assert not features[:, :, frames:].any()
    assert torch.equal(mask[:, :frames], longest_mask) and not mask[:, frames:].any()
    with pytest.raises(OmnischedError, match="longer than the encoder's window of 100 frames"):
        LogMel(frames=100)(speech[:3])


def test_dither_draws_the_noise_the_extractor_draws(speech):
    """With the same torch seed the extractor's dither and ours add the same noise."""
    dithered = LogMel(WhisperFeatureExtractor(feature_size=128, dither=1e-3))
    torch.manual_seed(0)
    expected = [_reference(dithered, w) for w in speech[:4]]
    torch.manual_seed(0)
    features, _ = dithered(speech[:4])
    plain, _ = LogMel()(speech[:4])
    for row, reference in enumerate(expected):
        frames = reference.shape[1]
        np.testing.assert_allclose(features[row, :, :frames].numpy(), reference, atol=1e-3)
    assert (features - plain).abs().max() > 1e-2


@pytest.mark.parametrize(
    ("waveforms", "message"),
    [
        ([], "no waveforms"),
        ([np.zeros(16000, np.float32), np.zeros(200, np.float32)], "waveform 1 .* 200 samples"),
        ([np.zeros((2, 16000), np.float32)], r"waveform 0 .* shape \(2, 16000\), not mono"),
    ],
)
def test_unusable_waveforms_are_refused(waveforms, message):
    with pytest.raises(OmnischedError, match=message):
        LogMel()(waveforms)


def test_an_extractor_at_another_rate_is_refused():
    with pytest.raises(OmnischedError, match="expects 24000 Hz"):
        LogMel(WhisperFeatureExtractor(feature_size=128, sampling_rate=24000))
