"""The NumPy CNN as a Foolbox 0.8 DifferentiableModel, with test-time dropout.

Foolbox 0.8.1 predates Python 3.10: its attacks do `from collections import Iterable`, which
is `collections.abc.Iterable` now. `import_foolbox()` restores the old alias before importing
it (nothing else in the attacks used here needs patching) — the attacks run unmodified.
"""

import collections
import collections.abc

import numpy as np

from cnn import parse_scheme


def import_foolbox():
    if not hasattr(collections, "Iterable"):
        collections.Iterable = collections.abc.Iterable  # Foolbox 0.8 on Python >= 3.10
    import foolbox  # noqa: F401

    return foolbox


foolbox = import_foolbox()


class DropoutCnnModel(foolbox.models.DifferentiableModel):
    """Foolbox 0.8 model over `cnn.Cnn`: images [1,28,28] (channels first, so channel_axis=1
    for batches), bounds (0, 1), logits out. Every call draws fresh dropout masks for each
    image from `rng` — the paper's setting (dropout kept on at test time, a new mask per
    query). Counts forward passes (one per image row, gradient calls included) and
    gradients, which `reset_counts()` zeroes.
    """

    def __init__(self, cnn, scheme=(0.0, 0.0, 0.0), rng=None):
        super(DropoutCnnModel, self).__init__(bounds=(0, 1), channel_axis=1)
        self.cnn = cnn
        self.scheme = parse_scheme(scheme)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.reset_counts()

    def reset_counts(self):
        self.forwards = 0
        self.gradients = 0

    def num_classes(self):
        return 10

    def batch_predictions(self, images):
        images = np.asarray(images, dtype=np.float32)
        assert images.ndim == 4 and images.shape[1:] == (1, 28, 28), images.shape
        self.forwards += images.shape[0]
        return self.cnn.logits(images, self.scheme, self.rng)

    def predictions_and_gradient(self, image, label):
        image = np.asarray(image, dtype=np.float32)
        assert image.shape == (1, 28, 28), image.shape
        self.forwards += 1
        self.gradients += 1
        logits, grad = self.cnn.logits_and_gradient(
            image[np.newaxis], int(label), self.scheme, self.rng
        )
        return logits[0], grad[0]

    # `gradient` is the base class's: predictions_and_gradient, one fresh mask draw.
