"""A run killed while it rewrites its climate leaves no store that a later run would trust.

The rewrite (socseq.pipeline.rechunk) writes each store under a temporary name in the run's
private scratch and renames it only when every block is written. A kill (SIGKILL, right after
the first block) leaves the partial store under its temporary name inside the dead run's
private folder; the next run deletes that folder, rewrites its own stores and publishes
exactly the products of a run that reads the files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import socseq.pipeline.rechunk as rechunk
from pipeline.equality_cases import dump

from .conftest import FaultRegion, bookkeeping, copy_set, invoke, which_set

#: ``socseq run`` with the rewrite forced on, killed as soon as the first block is written.
KILLED_WHILE_REWRITING = textwrap.dedent(
    """
    import os, signal
    import socseq.pipeline.rechunk as rechunk
    rechunk._FORCE = True
    write = rechunk._write_block

    def write_and_die(jobs, item):
        write(jobs, item)
        os.kill(os.getpid(), signal.SIGKILL)

    rechunk._write_block = write_and_die
    from socseq.cli import main
    main()
    """
)


def test_a_store_left_by_a_killed_rewrite_is_never_used(
    fault_region: FaultRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = copy_set(fault_region.clean_a, tmp_path / "out")
    args = ["run", str(fault_region.config_b), "--out", str(folder), "-q", "--no-report"]
    dead = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_REWRITING, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert dead.returncode == -9, dead.stderr
    assert which_set(folder, fault_region) == "A"  # the kill changed no product
    (private,) = (p for p in folder.iterdir() if p.name.startswith(".socseq-run-"))
    left = sorted(p.name for p in (private / "work" / "sources").iterdir())
    # Only partial stores, under temporary (hidden) names: none under a name the run reads.
    assert left and all(name.startswith(".") and ".tmp-" in name for name in left), left

    monkeypatch.setattr(rechunk, "_FORCE", True)
    code, err = invoke(args, capsys)
    assert code == 0, err
    assert bookkeeping(folder) == []  # the dead run's private folder, partial store included
    manifest = json.loads((folder / "run.json").read_text())
    assert all(s["rewritten"] for s in manifest["staging"]["rechunked_sources"].values())
    got, want = dump(folder), dump(fault_region.clean_b)  # clean_b read the files
    assert got.keys() == want.keys()
    for name, values in want.items():
        assert np.array_equal(got[name], values, equal_nan=values.dtype.kind == "f"), name
