"""The plugin contract: what plugins implement, and the values they receive and return.

The contract, as :class:`typing.Protocol` classes (the registry checks a
class against them when a plugin registers it; what else a detector can do
is read once per class into :class:`anobench.capabilities.Capabilities`):

* :class:`DetectorProtocol` — every detector: ``fit`` and ``score``
  (**higher score = more anomalous**).
* :class:`LatentDetectorProtocol` — a detector with a Gaussian posterior
  (``posterior_draw``), which the scoring rules reduce.
* :class:`CohortDetectorProtocol` — a detector that trains several models
  at once (``fit_cohort``, ``cohort_params``, ``cohort_size``: all or none).
* :class:`KeptModelProtocol` — a detector whose fitted state can be stored
  (``model_state``, ``load_model_state``).
* :class:`ScoringRuleProtocol` — a reduction of one :class:`PosteriorDraw`.
* :class:`ExecutorProtocol` — runs the runner's work units.

Base classes that implement them, with the optional parts' defaults
(subclassing them is optional): :class:`Detector`, :class:`LatentDetector`,
:class:`ScoringRule` (and :class:`anobench.executors.Executor`).

Values: :class:`LabeledData` (what a dataset loader returns),
:class:`PosteriorDraw` (one draw of the posterior for a test set; every
scoring rule is a reduction of it, so all rules of one model are paired),
:class:`FitCost` (what one fit costs, timed by a detector for ``anobench plan``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from anobench.values import (
    DRAW_OPTIONAL,
    MEASURES,
    FitCost,
    LabeledData,
    PosteriorDraw,
    missing_draw_fields,
)

__all__ = [
    "DRAW_OPTIONAL", "MEASURES", "CohortDetectorProtocol", "Detector", "DetectorProtocol",
    "ExecutorProtocol", "FitCost", "KeptModelProtocol", "LabeledData", "LatentDetector",
    "LatentDetectorProtocol", "PosteriorDraw", "ScoringRule", "ScoringRuleProtocol",
    "missing_draw_fields",
]


class Detector:
    """Base class for detectors.

    Implements :class:`DetectorProtocol`. Subclasses declare their parameters
    as keyword-only ``__init__`` arguments with defaults and store them
    unchanged; ``fit`` sets attributes ending in ``_``. ``score`` returns one
    float per sample, higher = more anomalous.

    Optional capabilities, each a protocol of its own: a posterior
    (:class:`LatentDetectorProtocol`, or subclass :class:`LatentDetector`),
    training in cohorts (:class:`CohortDetectorProtocol`), kept models
    (:class:`KeptModelProtocol`). Detectors without them are trained one by
    one and scored with :meth:`score`, their models not kept.
    """

    #: Set by the registry to the registered name.
    name: ClassVar[str] = ""
    #: Whether the suite loader checks a parameter value's type against its
    #: default's (``n_components = "8"`` refused when the default is 8).
    #: Wrappers of foreign classes whose parameters take several types
    #: (scikit-learn's ``max_samples = "auto"`` or 256) set it False and check
    #: values in :meth:`check_params`.
    param_types_from_defaults: ClassVar[bool] = True

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, X: np.ndarray, X_val: np.ndarray | None = None) -> Detector:
        raise NotImplementedError

    def score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_info(self) -> dict[str, Any]:
        """Extra facts about the fit stored with each record (epochs, losses)."""
        return {}

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Optional: raise ``ValueError`` naming a bad parameter value.

        Called by the suite loader for every grid point before anything
        trains, so a typo such as ``likelihood = "bernouli"`` is refused at
        load. The default accepts everything (types are checked separately).
        """

    @classmethod
    def fit_cost(cls, params: dict[str, Any], X: np.ndarray, *, device: str, members: int = 1,
                 n_samples: int | None = None) -> FitCost | None:
        """Optional, for detectors trained in epochs: time a few real steps (``anobench plan``).

        ``X`` holds training samples of the data (repeat them if more are
        needed); ``device`` is ``"cpu"`` or ``"cuda"``; ``members`` models
        are timed as one cohort (:class:`CohortDetectorProtocol`); ``n_samples``
        is the posterior samples the scoring rules read (``None``: score with
        :meth:`score`). It must take seconds, never a whole fit. ``None`` (the
        default): the plan times real fits on subsets of the data instead.
        """
        return None

    @classmethod
    def check_data(cls, params: dict[str, Any], sample_shape: tuple[int, ...]) -> None:
        """Optional: raise ``ValueError`` if ``params`` cannot work on this data.

        Called by ``anobench validate`` and ``anobench run`` once per grid
        point and dataset after the datasets are loaded, before anything
        trains or any run directory is created; ``sample_shape`` is one
        sample's shape, e.g. ``(6,)`` or ``(1, 28, 28)``. The message should
        name the parameter, its value and the property of the data it clashes
        with (PCA: ``n_components`` against the number of features). The
        default accepts everything.
        """


class LatentDetector(Detector):
    """A detector with a Gaussian posterior ``q(z|x)``; scoring rules apply.

    ``default_rule`` is the rule ``score`` uses; ``posterior_draw`` draws the
    posterior once for a test set.
    """

    default_rule: ClassVar[str] = "single"
    #: The optional :class:`PosteriorDraw` fields (:data:`DRAW_OPTIONAL`) that
    #: :meth:`posterior_draw` fills; rules needing others are refused at suite load.
    draw_provides: ClassVar[tuple[str, ...]] = ()

    def posterior_draw(self, X: np.ndarray, n_samples: int, seed: int) -> PosteriorDraw:
        """Draw the posterior once for ``X``.

        The first ``k`` samples must not depend on ``n_samples`` (draw sample
        ``l`` from the ``l``-th block of the seeded generator): the runner
        draws once with the largest ``n_samples`` of a cell and gives each
        suite entry its first ``n_samples`` rows (:meth:`PosteriorDraw.head`).
        """
        raise NotImplementedError


class ScoringRule:
    """Base class for scoring rules: a reduction of one :class:`PosteriorDraw`.

    Subclasses set ``name``, ``description``, optionally ``measures`` (the
    measures the rule can be read as) and ``min_samples``, and implement
    :meth:`reconstruction` (for the ``recon``/``elbo`` measures) or override
    :meth:`reduce` entirely.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    measures: ClassVar[tuple[str, ...]] = MEASURES
    #: Smallest number of posterior samples the rule needs (0: only mu).
    min_samples: ClassVar[int] = 1
    #: Most samples the rule reads (``None``: all ``L`` of the draw; ``single``
    #: reads 1, ``expected`` 0). The runner draws no more than some rule reads.
    max_samples: ClassVar[int | None] = None
    #: An oracle rule looks at the test labels: instead of one score vector it
    #: offers candidate score vectors (:meth:`candidates`), the runner computes
    #: every metric for every candidate and keeps, per metric, the one
    #: :meth:`choose` picks. Its records carry ``oracle: true``.
    oracle: ClassVar[bool] = False
    #: Optional :class:`PosteriorDraw` fields the rule reads (e.g. ``("log_likelihood",)``);
    #: a suite pairing it with a detector whose ``draw_provides`` lacks one is refused.
    needs: ClassVar[tuple[str, ...]] = ()

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        """Per-example reconstruction term, shape (n,)."""
        raise NotImplementedError

    def candidates(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        """Oracle rules: candidate score vectors, shape (K, n), higher = more anomalous."""
        raise NotImplementedError

    def choose(self, values: np.ndarray) -> int:
        """Oracle rules: index of the candidate to keep, given one metric's values (K,).

        Every metric is higher = better; ``best`` returns the first argmax,
        ``worst`` the first argmin.
        """
        raise NotImplementedError

    def reduce(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        """Anomaly score per example (higher = more anomalous)."""
        if self.oracle:
            raise ValueError(f"scoring rule {self.name!r} is an oracle: it picks one of its "
                             "candidates() with the test labels, it has no label-free reduce()")
        recon = np.asarray(self.reconstruction(draw), dtype=np.float64)
        if measure == "recon":
            return recon
        if measure == "elbo":
            return recon + draw.beta * np.asarray(draw.kl, dtype=np.float64)
        raise ValueError(f"scoring rule {self.name!r} does not support measure {measure!r}")


# ------------------------------------------------------------------ the contract
@runtime_checkable
class DetectorProtocol(Protocol):
    """What every detector provides.

    A detector is a class with a keyword-only ``__init__`` whose parameters
    all have defaults and which only stores them (``self.k = k``); ``fit``
    sets attributes ending in ``_``. A ``random_state`` parameter is given
    the cell's seed (unless the suite sets it), a ``device`` parameter the
    run's device (when the suite leaves it ``"auto"``).

    Optional, with defaults in :class:`Detector`: ``fit_info()``,
    ``check_params(params)``, ``check_data(params, sample_shape)``,
    ``fit_cost(...)`` and ``param_types_from_defaults``; and the
    capabilities of :class:`LatentDetectorProtocol`,
    :class:`CohortDetectorProtocol` and :class:`KeptModelProtocol`.
    """

    def fit(self, X: np.ndarray, X_val: np.ndarray | None = None) -> Any:
        """Fit on normal samples.

        Parameters
        ----------
        X : ndarray, shape (n, *sample_shape)
            Training samples of the normal class.
        X_val : ndarray, optional
            Held-out normal samples (e.g. for early stopping).

        Returns
        -------
        self
        """
        ...

    def score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores of ``X``: one float per sample, shape ``(n,)``, higher = more anomalous."""
        ...


@runtime_checkable
class LatentDetectorProtocol(DetectorProtocol, Protocol):
    """A detector with a Gaussian posterior ``q(z|x)``: the scoring rules apply to it.

    Optional class attributes (defaults in :class:`LatentDetector`):
    ``default_rule`` (the rule a suite entry uses when it names none) and
    ``draw_provides`` (the optional :class:`PosteriorDraw` fields it fills,
    from :data:`DRAW_OPTIONAL`).
    """

    def posterior_draw(self, X: np.ndarray, n_samples: int, seed: int) -> PosteriorDraw:
        """Draw the posterior once for ``X`` (see :meth:`LatentDetector.posterior_draw`).

        Parameters
        ----------
        X : ndarray
            Test samples.
        n_samples : int
            ``L``, the sampled ``z`` per example; the first ``k`` must not
            depend on ``n_samples``.
        seed : int
            Seed of the sampling.

        Returns
        -------
        PosteriorDraw
        """
        ...


@runtime_checkable
class CohortDetectorProtocol(DetectorProtocol, Protocol):
    """A detector that fits several instances at once (e.g. as one stacked network).

    The runner groups a class's cells (repetitions, and grid points that
    differ only in :attr:`cohort_params`) into cohorts of :meth:`cohort_size`
    members; records stay one per cell. A class defines all three members
    or none (the registry refuses a part); the conformance kit checks that
    each member ends as its own single fit would.
    """

    #: Parameters that may differ between the members of one cohort
    #: (``random_state`` always may); all others are equal.
    cohort_params: ClassVar[tuple[str, ...]]

    @classmethod
    def fit_cohort(cls, members: Sequence[Any], X: np.ndarray,
                   X_val: np.ndarray | None = None) -> Sequence[Any]:
        """Fit the unfitted ``members`` together.

        Returns
        -------
        list
            Per member, the fitted detector (its own object) or the
            exception that ended it; each must end as ``member.fit(X, X_val)``
            would alone (same seeds).
        """
        ...

    @classmethod
    def cohort_size(cls, device: str, sample_shape: tuple[int, ...]) -> int:
        """How many members are worth training together on ``device`` (``"cpu"``
        or ``"cuda"``) for samples of ``sample_shape`` (1: one by one)."""
        ...


@runtime_checkable
class KeptModelProtocol(DetectorProtocol, Protocol):
    """A detector whose fitted state is a set of arrays (``[suite] keep_models``,
    ``anobench rescore``).

    Optional: ``model_bytes(params, sample_shape)`` (classmethod), the size of
    :meth:`model_state` in bytes, for the run's estimate.
    """

    def model_state(self) -> dict[str, np.ndarray]:
        """The fitted model as ``{name: ndarray}``."""
        ...

    def load_model_state(self, state: dict[str, np.ndarray],
                         sample_shape: tuple[int, ...]) -> Any:
        """On an unfitted instance made with the same parameters, restore ``state``
        so that ``score`` (and ``posterior_draw``) give what the fitted instance
        gave; return ``self``."""
        ...


@runtime_checkable
class ScoringRuleProtocol(Protocol):
    """A reduction of one :class:`PosteriorDraw` to one anomaly score per example.

    Optional, with defaults in :class:`ScoringRule`: ``description``,
    ``min_samples``, ``max_samples``, ``needs`` and, for an oracle rule
    (``oracle = True``), ``candidates`` and ``choose`` in place of a
    label-free :meth:`reduce`.
    """

    @property
    def name(self) -> str:
        """Lowercase name used in suites and tables."""
        ...

    @property
    def measures(self) -> tuple[str, ...]:
        """The measures the rule can be read as (of :data:`MEASURES`)."""
        ...

    def reduce(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        """Scores, shape ``(n,)``, higher = more anomalous; ``ValueError`` for a
        measure the rule does not support."""
        ...


@runtime_checkable
class ExecutorProtocol(Protocol):
    """Runs the runner's work units, here or elsewhere (see :mod:`anobench.executors`).

    Made as ``cls(jobs=..., devices=..., **options)``; the base class
    :class:`anobench.executors.Executor` stores ``jobs`` and ``devices``.
    """

    @property
    def in_process(self) -> bool:
        """Whether units run in the driver's own process (a crash there ends the run)."""
        ...

    def map(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Call ``fn(unit)`` for every unit (consume ``units`` lazily) and yield
        ``(unit, result)`` pairs in any order."""
        ...

    def close(self) -> None:
        """Release workers (called once the run is over, also after an error)."""
        ...


if TYPE_CHECKING:  # the base classes keep the contract (checked by mypy)
    _detector: type[DetectorProtocol] = Detector
    _latent: type[LatentDetectorProtocol] = LatentDetector
    _rule: type[ScoringRuleProtocol] = ScoringRule
