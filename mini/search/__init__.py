"""Search a dopesheet's search cells (``?lo..hi``, ``?{a b c}``) and get the best schedule
back as a dopesheet. Optuna (the default, in-process) and Ray Tune are imported only when a
search runs with them; Ray Tune also runs Population Based Training over the sheet's values
(``scheduler="pbt"``, :mod:`mini.search.pbt`). See ``docs/search.md``.

>>> from mini.search import search
>>> result = search("space.csv", run=train, objective="val_quality:max", trials=30)
"""

from mini.search.api import SearchResult, search
from mini.search.objectives import Objective, parse_objective
from mini.search.trial import Pruning, Reporter, TrialPruned

__all__ = [
    "Objective",
    "Pruning",
    "Reporter",
    "SearchResult",
    "TrialPruned",
    "parse_objective",
    "search",
]
