"""The torch stack: what the built-in neural detectors train with.

The core (``anobench/*.py``) never imports this package; plugins and
benchmarks do. Modules, each with one job:

* :mod:`~anobench.torchstack.networks` — architectures only, sized from the
  data (the authors' conv nets, an MLP for feature vectors), Keras' init;
* :mod:`~anobench.torchstack.losses` — free loss functions, one term per sample;
* :mod:`~anobench.torchstack.runtime` — device, threads, seeds and generators,
  checked tensors;
* :mod:`~anobench.torchstack.stopping` — the early-stopping state shared by
  both trainers (best value, epoch and weights, patience, divergence) and
  :class:`~anobench.torchstack.stopping.TrainResult`;
* :mod:`~anobench.torchstack.training` — :class:`Objective`, :class:`TrainConfig`
  and the one trainer, :func:`~anobench.torchstack.training.fit_model`;
* :mod:`~anobench.torchstack.cohort` — several members of one architecture
  trained as one stacked model, each equal to its single fit.

Named ``torchstack`` rather than ``torch`` so that nothing in or beside it can
shadow the ``torch`` library.
"""
