"""Hook specifications: the only contract between anobench and its plugins.

A plugin is any module or object that implements one or more of these hooks
(decorated with :data:`hookimpl`) and is exposed through the ``anobench``
entry-point group::

    [project.entry-points.anobench]
    my-plugin = "my_package.anobench_plugin"

Each ``anobench_register_*`` hook receives the :class:`~anobench.registry.Registry`
and adds named components to it. The registry records which plugin provided
each component and refuses duplicates and malformed components.

The hooks are called by pluggy (see :mod:`anobench.manager`): the plugin
registered last first, unless ``@hookimpl(tryfirst=True)`` or
``trylast=True`` moves it; ``@hookimpl(wrapper=True)`` runs around the
others. A plugin implementing a hook not listed here is refused by name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from anobench.registry import Registry

PROJECT = "anobench"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorator for plugin hook implementations.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def anobench_register_detectors(registry: Registry) -> None:
    """Register detector classes with ``registry.add_detector(name, cls, ...)``.

    A detector class has a keyword-only ``__init__`` that only stores its
    parameters, ``fit(X_train, X_val=None) -> self`` and ``score(X) -> ndarray``
    with *higher = more anomalous*. Latent-variable detectors also implement
    ``posterior_draw(X, n_samples, seed)`` so scoring rules can be applied.
    """


@hookspec
def anobench_register_scoring_rules(registry: Registry) -> None:
    """Register scoring rules with ``registry.add_scoring_rule(rule)``.

    A rule reduces one :class:`~anobench.api.PosteriorDraw` to one anomaly
    score per example (see :class:`~anobench.api.ScoringRule`).
    """


@hookspec
def anobench_register_datasets(registry: Registry) -> None:
    """Register dataset loaders with ``registry.add_dataset(name, loader, ...)``.

    A loader is called as ``loader(data_dir=..., **options)`` and returns a
    :class:`~anobench.api.LabeledData`.
    """


@hookspec
def anobench_register_executors(registry: Registry) -> None:
    """Register executors with ``registry.add_executor(name, cls)``.

    An executor runs the runner's work units (a cell or a cohort of cells),
    here or elsewhere, and yields their results back; see
    :mod:`anobench.executors` for the interface. ``local`` and ``processes``
    are built in.
    """

