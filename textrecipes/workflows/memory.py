"""`train`'s in-memory data: checked before the run starts, written into the run folder's ``data/`` by the task's `read`.

The recipe's ``data`` files are replaced by ``<run folder>/data/train.tsv`` (and
``validation.tsv``/``test.tsv`` when given, else those splits are split off the
training data), as absolute paths, so the run folder's ``recipe.toml`` reruns as it is.
"""

from __future__ import annotations

import logging
import os
from typing import Mapping

from textrecipes.data.in_memory import REPLACED, MemoryData, from_memory

__all__ = ["MemorySplits", "memory_splits"]

log = logging.getLogger("textrecipes")
SPLITS = ("train", "validation", "test")


class MemorySplits:
    """The in-memory splits of one `train` call (``train`` required, ``validation``/``test`` optional)."""

    def __init__(self, given: Mapping, text_column: str, label_column: str):
        self.given, self.text_column, self.label_column = given, text_column, label_column
        self.checked: dict[str, MemoryData] = {}

    def data_keys(self, folder: str | None) -> dict:
        """The recipe's ``data`` keys for a run into ``folder`` (None: a placeholder, before it is chosen)."""
        def path(split):
            if split not in self.given:
                return ""
            if folder is None:
                return f"{split} (in memory)"
            return os.path.abspath(os.path.join(folder, "data", f"{split}.tsv"))
        return {"data": {"format": "label_text", "text_first": False, "header": False,
                         **{split: path(split) for split in SPLITS}}}

    def check(self, cfg: Mapping) -> None:
        """Checks every split's values under the recipe's ``data.on_bad_lines`` and ``data.multi_label``."""
        if cfg["data"]["format"] != "label_text":
            raise ValueError(f"in-memory data is for text classification (data.format = 'label_text'); this recipe's "
                             f"format is {cfg['data']['format']!r}: write its files and name them in [data]")
        for split, value in self.given.items():
            texts, labels, frame = value
            self.checked[split] = from_memory(texts, labels, data=frame, text_column=self.text_column,
                                              label_column=self.label_column, what=split,
                                              on_bad_lines=cfg["data"]["on_bad_lines"],
                                              multi_label=cfg["data"]["multi_label"])

    def task(self, task):
        """``task``, reading the splits from the run folder after writing them there."""
        return _WritesFirst(task, self)


class _WritesFirst:
    """A task whose `read` first writes the in-memory splits to the files the recipe names (inside the run folder)."""

    def __init__(self, task, memory: MemorySplits):
        self._task, self._memory = task, memory

    def __getattr__(self, name):
        return getattr(self._task, name)

    def missing_inputs(self, cfg: Mapping) -> list[str]:
        """As the task's, but for the splits this wrapper writes itself (in `read`, once the run folder exists)."""
        written = {f"data.{split}" for split in self._memory.checked}
        return [p for p in self._task.missing_inputs(cfg) if p.split(" = ", 1)[0] not in written]

    def read(self, cfg: Mapping):
        for split, memory in self._memory.checked.items():
            memory.write(cfg["data"][split], cfg["data"]["label_sep"])
            if memory.replaced:
                log.warning(f"{memory.report.path}: {memory.replaced} value(s) held a tab or newline: {REPLACED}")
        splits = self._task.read(cfg)
        splits.reports[:0] = [m.report for m in self._memory.checked.values()]
        return splits


def memory_splits(texts, labels, data, validation_data, test_data, text_column: str, label_column: str):
    """The in-memory splits given to `train`, or None when it got none.

    Example:
        >>> memory_splits(None, None, None, None, None, "text", "label") is None
        True
    """
    if texts is None and labels is None and data is None:
        if validation_data is not None or test_data is not None:
            raise ValueError("validation_data/test_data go with in-memory training data (texts= and labels=, or data=)")
        return None
    given = {"train": (texts, labels, data)}
    for split, value in (("validation", validation_data), ("test", test_data)):
        if value is not None:
            given[split] = (None, None, value)
    return MemorySplits(given, text_column, label_column)
