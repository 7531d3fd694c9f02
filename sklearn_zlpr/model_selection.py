"""Model selection for multi-label data: stratified splits and tuned thresholds.

* :class:`MultilabelStratifiedKFold` and :class:`MultilabelStratifiedShuffleSplit`:
  cross-validation splitters that keep every label's share in every fold
  (iterative stratification, Sechidis et al., 2011), for ``cv=`` in
  ``GridSearchCV``, ``cross_validate`` and ``cross_val_score``;
  :func:`iterative_stratification`, the assignment behind them.
* :class:`TunedMultilabelThresholds`: a meta-estimator that picks the decision
  threshold (global or per label) of any multi-label classifier from
  cross-validated out-of-fold scores, then refits.
"""

from ._split import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    iterative_stratification,
)
from ._threshold_tuning import TunedMultilabelThresholds

__all__ = [
    "MultilabelStratifiedKFold",
    "MultilabelStratifiedShuffleSplit",
    "TunedMultilabelThresholds",
    "iterative_stratification",
]
