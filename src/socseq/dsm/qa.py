"""The sample quality report: every sample that is changed, merged or dropped, and why.

Digital soil mapping is only as honest as its samples. No sample is removed silently: each
step (unit checks, stock computation, depth harmonisation, duplicate merging, covariate
extraction) records what it did to which sample in one :class:`SampleReport`, which is written
beside the maps as ``samples_qa.csv`` and summarised on the console.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ISSUE_COLUMNS", "SampleReport"]

#: Columns of the issue table.
ISSUE_COLUMNS = ("sample_id", "row", "issue", "column", "value", "action", "detail")


@dataclass
class SampleReport:
    """Issues found in a sample table, one row per sample and issue.

    Attributes
    ----------
    source : str
        The samples file, for messages.
    n_read : int
        Rows read from the file.
    n_used : int
        Samples left for modelling after all steps.
    """

    source: str = ""
    n_read: int = 0
    n_used: int = 0
    _rows: list[dict[str, object]] = field(default_factory=list, repr=False, init=False)

    def add(
        self,
        sample_id: str,
        row: int,
        issue: str,
        action: str,
        *,
        column: str = "",
        value: float = float("nan"),
        detail: str = "",
    ) -> None:
        """Record one issue of one sample (``row`` is the 1-based data row in the file)."""
        self._rows.append(
            {
                "sample_id": sample_id,
                "row": int(row),
                "issue": issue,
                "column": column,
                "value": float(value),
                "action": action,
                "detail": detail,
            }
        )

    def add_rows(
        self,
        frame: pd.DataFrame,
        issue: str,
        action: str,
        *,
        column: str = "",
        values: Iterable[float] | None = None,
        detail: str = "",
    ) -> None:
        """Record the same issue for every row of ``frame`` (needs ``sample_id`` and ``row``)."""
        vals = np.full(len(frame), np.nan) if values is None else np.asarray(list(values), float)
        for sid, row, value in zip(frame["sample_id"], frame["row"], vals, strict=True):
            self.add(str(sid), int(row), issue, action, column=column, value=value, detail=detail)

    @property
    def issues(self) -> pd.DataFrame:
        """The issue table (columns :data:`ISSUE_COLUMNS`), in the order found."""
        return pd.DataFrame(self._rows, columns=list(ISSUE_COLUMNS))

    def counts(self) -> pd.DataFrame:
        """Count the samples per (issue, action), most frequent first."""
        table = self.issues
        if table.empty:
            return pd.DataFrame(columns=["issue", "action", "samples"])
        grouped = table.groupby(["issue", "action"], sort=False)["sample_id"].nunique()
        return grouped.rename("samples").reset_index().sort_values("samples", ascending=False)

    def summary(self) -> list[str]:
        """One line per (issue, action) plus the totals, for the console and the docs."""
        lines = [f"{self.source}: {self.n_read} rows read, {self.n_used} samples used"]
        for _, item in self.counts().iterrows():
            lines.append(f"  {item['samples']} sample(s): {item['issue']} → {item['action']}")
        return lines
