import numpy as np
import pytest

from chat_rec.config import ConfigError, EncoderConfig
from chat_rec.models.encoder import Encoder, HashEncoder


def test_hash_encoder_is_deterministic_and_normalised():
    enc = HashEncoder(64)
    a = enc.encode(["space horror on a ship", "space horror on a ship", ""])
    assert a.shape == (3, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a[0], a[1])
    assert np.linalg.norm(a[0]) == pytest.approx(1.0) and not a[2].any()
    assert isinstance(enc, Encoder)


def test_unknown_encoder_kind_lists_accepted_values():
    """Checked when the configuration is built, before anything loads."""
    with pytest.raises(ConfigError, match="accepted values are minilm, hash"):
        EncoderConfig(kind="word2vec")


def test_packaged_minilm_loads_offline_and_is_semantic(minilm):
    vectors = minilm.encode(
        [
            "a scary movie about a monster on a spaceship",
            "horror film: an alien creature hunts the crew of a space freighter",
            "a light romantic comedy set in Paris",
        ]
    )
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert minilm.encode([]).shape == (0, 384)
