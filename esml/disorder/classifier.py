"""A network that tells extended from localised states by a realisation's samples.

A sample is a short vector of numbers of one realisation: the smallest Lyapunov exponents (× L) of a
segment of a bar, or a block of consecutive spacing ratios, sorted (the order of levels in the
window carries nothing the labels need). The network outputs the probability that the sample
comes from extended states (as a logit). It learns only from realisations far from the transition, labelled
by which side they are on; near the transition its output is a statistic whose dependence on W
and L the finite-size scaling then reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

HIDDEN = 64
BATCH = 256
LEARNING_RATE = 2e-3
VALIDATION = 0.1  # fraction of the training samples held out to report accuracy


def blocks(ratios: np.ndarray, block: int) -> np.ndarray:
    """Non-overlapping runs of ``block`` consecutive ratios, each sorted: (n_blocks, block)."""
    count = len(ratios) // block
    return np.sort(np.asarray(ratios[: count * block], dtype=np.float32).reshape(count, block), axis=1)


class Classifier(torch.nn.Module):
    """Standardised inputs (the training samples' mean and spread, kept as buffers), then an MLP."""

    def __init__(self, inputs: int, mean: torch.Tensor, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        self.layers = torch.nn.Sequential(torch.nn.Linear(inputs, HIDDEN), torch.nn.SiLU(),
                                          torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.SiLU(), torch.nn.Linear(HIDDEN, 1))

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """Logits of 'extended', one per sample."""
        return self.layers((samples - self.mean) / self.scale).squeeze(-1)


@dataclass(frozen=True)
class Training:
    """The trained network and its accuracy on held-out training samples (the far-from-critical ones)."""

    model: Classifier
    samples_seen: int
    validation_accuracy: float


def train_classifier(extended: Sequence[np.ndarray], localised: Sequence[np.ndarray], epochs: int,
                     seed: int = 0) -> Training:
    """Fit the network to samples, (n, d) per realisation, labelled extended (1) or localised (0).
    The two classes weigh equally whatever their counts."""
    torch.manual_seed(seed)
    features = [np.concatenate(group).astype(np.float32) for group in (extended, localised)]
    x = torch.from_numpy(np.concatenate(features))
    y = torch.cat([torch.ones(len(features[0])), torch.zeros(len(features[1]))])
    weight = torch.cat([torch.full((len(features[0]),), 0.5 / len(features[0])),
                        torch.full((len(features[1]),), 0.5 / len(features[1]))]) * len(x)
    order = torch.randperm(len(x))
    held, kept = order[: int(VALIDATION * len(x))], order[int(VALIDATION * len(x)):]
    model = Classifier(x.shape[1], x[kept].mean(0), x[kept].std(0).clamp_min(1e-6))
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss = torch.nn.BCEWithLogitsLoss(reduction="none")
    for _ in range(epochs):
        for batch in kept[torch.randperm(len(kept))].split(BATCH):
            optimiser.zero_grad()
            (loss(model(x[batch]), y[batch]) * weight[batch]).mean().backward()
            optimiser.step()
    with torch.no_grad():
        right = ((model(x[held]) > 0).float() == y[held]).float()
        accuracy = float((right * weight[held]).sum() / weight[held].sum())
    return Training(model.eval(), len(kept), accuracy)


def realisation_outputs(training: Training, realisations: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each realisation's mean output over its samples, and its sample count (a realisation without
    samples gets count 0 and output NaN). The output is the logit of P(extended): unlike the
    probability it does not saturate at 0 or 1 on either side of the transition, so a polynomial
    scaling function can follow it across the whole window."""
    means, counts = np.full(len(realisations), np.nan), np.zeros(len(realisations), dtype=int)
    with torch.no_grad():
        for index, samples in enumerate(realisations):
            if len(samples):
                means[index] = float(training.model(torch.from_numpy(samples.astype(np.float32))).mean())
                counts[index] = len(samples)
    return means, counts
