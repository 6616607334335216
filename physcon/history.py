"""What a :func:`physcon.train.fit` run did: the public :class:`History`, and the host-side
accumulator behind it, which is also the part of a checkpoint that makes a resumed run's
history continue the interrupted one's."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class History:
    """What happened during :func:`physcon.train.fit` (host NumPy arrays; resumed runs include
    the steps done before the checkpoint).

    Attributes:
        step: step index of each training loss, ``arange(steps_done)``, shape ``(S,)``.
        loss: training loss of each step (the loss of the batch the step was computed on,
            before that step's update), shape ``(S,)``, in the loss's dtype.
        valid_step: number of steps done at each validation, shape ``(V,)``.
        valid_loss: validation loss at those points, shape ``(V,)``.
        seconds: wall time of each compiled chunk of steps (compilation excluded), ``(C,)``.
        chunk_step: number of steps done at the end of each chunk, shape ``(C,)``.
        compile_seconds: total time spent compiling (the training chunk(s) and validation).
        aux: with ``has_aux=True``, the per-step mean of each entry of ``loss_fn``'s aux
            dict, ``{name: (S,)}``; else empty.
        best_step, best_valid_loss: the validation with the lowest loss (``None`` without
            validation data).
    """

    step: np.ndarray
    loss: np.ndarray
    valid_step: np.ndarray
    valid_loss: np.ndarray
    seconds: np.ndarray
    chunk_step: np.ndarray
    compile_seconds: float
    aux: dict[str, np.ndarray]
    best_step: int | None = None
    best_valid_loss: float | None = None

    def __len__(self) -> int:
        return int(self.loss.shape[0])

    @property
    def steps_per_second(self) -> float:
        """Training throughput over the timed chunks (compilation excluded)."""
        done = np.diff(np.concatenate([[0], self.chunk_step]))
        total = float(np.sum(self.seconds))
        return float(np.sum(done)) / total if total > 0 else float("nan")


class _Record:
    """Mutable host-side accumulator behind :class:`History` (also what a checkpoint stores)."""

    def __init__(self, aux_names):
        self.loss: list[np.ndarray] = []
        self.aux: dict[str, list[np.ndarray]] = {k: [] for k in aux_names}
        self.valid_step: list[int] = []
        self.valid_loss: list[float] = []
        self.seconds: list[float] = []
        self.chunk_step: list[int] = []
        self.compile_seconds = 0.0
        self.best_step: int | None = None
        self.best_valid_loss: float | None = None

    def arrays(self, loss_dtype) -> dict[str, Any]:
        loss = np.concatenate(self.loss) if self.loss else np.zeros((0,), loss_dtype)
        return {
            "loss": loss,
            "aux": {k: (np.concatenate(v) if v else np.zeros((0,), loss_dtype)) for k, v in self.aux.items()},
            "valid_step": np.asarray(self.valid_step, np.int64),
            "valid_loss": np.asarray(self.valid_loss, np.float64),
            "seconds": np.asarray(self.seconds, np.float64),
            "chunk_step": np.asarray(self.chunk_step, np.int64),
        }

    def load(self, arrays, header):
        self.loss = [arrays["loss"]]
        self.aux = {k: [v] for k, v in arrays["aux"].items()}
        self.valid_step = [int(v) for v in arrays["valid_step"]]
        self.valid_loss = [float(v) for v in arrays["valid_loss"]]
        self.seconds = [float(v) for v in arrays["seconds"]]
        self.chunk_step = [int(v) for v in arrays["chunk_step"]]
        self.compile_seconds = float(header["compile_seconds"])
        self.best_step = header["best_step"]
        self.best_valid_loss = header["best_valid_loss"]

    def history(self, loss_dtype) -> History:
        a = self.arrays(loss_dtype)
        return History(step=np.arange(a["loss"].shape[0]), compile_seconds=self.compile_seconds,
                       best_step=self.best_step, best_valid_loss=self.best_valid_loss, **a)



__all__ = ["History"]
