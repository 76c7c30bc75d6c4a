"""HiGHS for the storage LP, warm-started: one solver kept per LP structure.

Receding-horizon planning solves the same LP structure (same matrix) again and again with new
costs and bounds. Keeping the HiGHS instance and changing only costs and bounds lets the
simplex start from the previous optimal basis instead of from scratch. A solve that does not
end optimal from a warm start is retried cold, so a stale basis can never change the answer.

A caller that wants a cold solve (a result that depends on the LP alone, as the storage
service does for every origin) calls :func:`reset_warm_starts` first: the kept instances
forget their model, basis and solution and solve the next LP of their structure as new ones
would. That skips creating and destroying a HiGHS instance per origin (~0.15 ms of CPU).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from gridstream.core.storage.horizon import FloatArray
from gridstream.core.storage.lp import LpArrays

TIME_LIMIT_S = 2.0
MAX_CACHED = 8

_banner_shown = False
_lock = threading.Lock()
_cache: OrderedDict[tuple[object, ...], Any] = OrderedDict()
#: structures whose kept solver must solve its next LP from scratch (see reset_warm_starts)
_reset: set[tuple[object, ...]] = set()
_COLWISE = 1  # HiGHS MatrixFormat::kColwise
_MINIMIZE = 1  # HiGHS ObjSense::kMinimize


def _new_solver() -> Any:
    """A silent HiGHS instance; the first one per process prints a banner on fd 1, which
    would corrupt ``--json`` output, so that one is created with stdout sent to stderr.

    It is highspy's core class: its Python subclass ``Highs`` adds one callback object per
    callback type on creation (a third of the cost of a solver that solves one LP), and
    only ``solve()``'s interrupt handling and the callbacks use them; ``run`` is the same."""
    global _banner_shown
    from highspy._core import _Highs

    if _banner_shown:
        solver = _Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            solver = _Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("time_limit", TIME_LIMIT_S)
    solver.setOptionValue("solver", "simplex")  # small LPs: simplex without presolve is
    solver.setOptionValue("presolve", "off")  # ~3x faster than the defaults here
    return solver


def _pass_model(solver: Any, lp: LpArrays) -> None:
    """The LP in array form, its matrix column-wise (HiGHS's own layout: no conversion)."""
    matrix = lp.matrix
    solver.passModel(
        matrix.num_col,
        matrix.num_row,
        len(matrix.col_index),
        _COLWISE,
        _MINIMIZE,
        0.0,
        lp.col_cost,
        lp.col_lower,
        lp.col_upper,
        lp.row_lower,
        lp.row_upper,
        matrix.col_start,
        matrix.col_index,
        matrix.col_value,
        matrix.integrality,
    )


def _update(solver: Any, lp: LpArrays) -> None:
    """Give a solver holding the same structure the costs and bounds of ``lp``."""
    n, m = len(lp.col_cost), len(lp.row_lower)
    cols = np.arange(n, dtype=np.int32)
    solver.changeColsCost(n, cols, lp.col_cost)
    solver.changeColsBounds(n, cols, lp.col_lower, lp.col_upper)
    if m:
        rows = np.arange(m, dtype=np.int32)
        solver.changeRowsBounds(m, rows, lp.row_lower, lp.row_upper)


def _result(solver: Any) -> tuple[str, FloatArray | None, float]:
    import highspy

    status = solver.getModelStatus()
    text = str(solver.modelStatusToString(status))
    if status != highspy.HighsModelStatus.kOptimal:
        return text, None, float("nan")
    values = np.asarray(solver.getSolution().col_value, dtype=np.float64)
    return text, values, float(solver.getObjectiveValue())  # the info's objective value


def _cold(lp: LpArrays) -> tuple[Any, tuple[str, FloatArray | None, float]]:
    solver = _new_solver()
    _pass_model(solver, lp)
    solver.run()
    return solver, _result(solver)


def _restart(solver: Any, lp: LpArrays) -> tuple[str, FloatArray | None, float]:
    """Solve ``lp`` on a kept instance as a new instance would: ``clearSolver`` and
    ``passModel`` drop its basis, solution and model (the outputs and changelog digests of
    ``benchmarks/profile_storage.py`` are those of a new instance per origin).

    HiGHS's time limit is on the instance's run time summed over all its runs, which no
    call resets: the limit moves on by the run time so far, as a new instance's clock
    would start from zero."""
    solver.clearSolver()
    solver.setOptionValue("time_limit", solver.getRunTime() + TIME_LIMIT_S)
    _pass_model(solver, lp)
    solver.run()
    return _result(solver)


def solve_lp(lp: LpArrays, warm: bool = True) -> tuple[str, FloatArray | None, float]:
    """Solve ``lp`` with HiGHS: the model status text, the column values when optimal
    (else None) and the objective value. ``warm`` reuses the last basis of the same structure."""
    if not warm or not _lock.acquire(blocking=False):  # busy (another thread): solve cold
        return _cold(lp)[1]
    try:
        key = lp.matrix.key
        solver = _cache.get(key)
        if solver is not None and key in _reset:
            _reset.discard(key)
            outcome = _restart(solver, lp)
            if outcome[1] is None:
                del _cache[key]  # as a new solver that failed: not kept
            else:
                _cache.move_to_end(key)
            return outcome
        if solver is not None:
            _update(solver, lp)
            solver.run()
            outcome = _result(solver)
            if outcome[1] is not None:
                _cache.move_to_end(key)
                return outcome
            del _cache[key]  # retry from scratch: a warm start must never change the answer
        solver, outcome = _cold(lp)
        if outcome[1] is not None:
            _cache[key] = solver
            while len(_cache) > MAX_CACHED:
                _reset.discard(_cache.popitem(last=False)[0])
        return outcome
    finally:
        _lock.release()


def clear_warm_solvers() -> None:
    """Forget the cached solvers (tests, or to release memory)."""
    with _lock:
        _cache.clear()
        _reset.clear()


def reset_warm_starts() -> None:
    """Make the next solve of every kept structure a cold one (as after
    :func:`clear_warm_solvers`) while keeping the instances for reuse."""
    with _lock:
        _reset.update(_cache)
