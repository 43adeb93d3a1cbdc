"""MES with voter_budget_increment=1 (``mes-add1``): pabutools' +1 stepping, with proven skips.

add1 must land on exactly the step where pabutools' +1 stepping stops, and the
outcome is not monotone in the step, so steps are only skipped with a proof:
two runs that fund the same projects in the same order, with each rival beaten
at both ends, give the same outcome at every step in between (budgets are
monotone in the starting budget for a fixed history).  Otherwise every step is
run, each one using the run one step up as a source of lower bounds, and large
searches use one forked helper process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from contextlib import contextmanager
from fractions import Fraction

from votes.tally.mes import MesInput, MesRun, mes_run
from votes.tally.prepare import Prepared

_BLOCK = 16  # add1: steps run per block (at most _BLOCK - 1 runs past the stopping step)
_MAX_JUMP = 1 << 20  # add1: widest interval tried with a certificate
_HELPER_MIN_WORK = 50_000  # add1: total supporters from which a helper process is used
_RENUMBER_MIN_WORK = 20_000  # add1: total supporters from which voters are renumbered after step 0
_RENUMBER_EVERY = 32  # add1: steps after which voters are renumbered again (from the latest run)


def certified(mi: MesInput, low: MesRun, high: MesRun) -> bool:
    """True if every step between the steps of ``low`` and ``high`` gives the same MES outcome.

    For a fixed sequence of funded projects, every voter's remaining budget
    is a non-decreasing function of the starting budget (a project's rho only
    falls when budgets rise, and what is left is max(0, budget - rho * sat)).
    So at any step k in between, round r's pick has rho at most its rho in
    ``low``, and any rival's rho is at least its rho (or stored bound) in
    ``high``.  If in every round each rival of ``high`` is beaten by the
    pick's rho in ``low`` (ties going to the smaller id) and both runs stop
    after the same rounds, induction on the rounds gives the same run at k.
    """
    if len(low.trace) != len(high.trace):
        return False
    for lo, hi in zip(low.trace, high.trace, strict=True):
        if lo.s != hi.s:
            return False
        theta = lo.theta
        if hi.limit is not None and hi.limit < lo.theta_key:
            return False  # some rival in high was not evaluated far enough
        sid = mi.projects[lo.s].id
        for j, rho in hi.rhos.items():
            if j != lo.s and (rho < theta or (rho == theta and mi.projects[j].id < sid)):
                return False
    return True


def mes_add1(prep: Prepared, kind: str) -> tuple[list[str], MesInput, MesRun, int]:
    """MES with voter_budget_increment=1: exactly the outcome of pabutools' +1 stepping.

    pabutools runs MES at steps k = 0, 1, 2, ... (budget / n + k per voter)
    and stops at the first k whose outcome overspends (returning the outcome
    of k - 1) or is exhaustive.  Every step below the answer is accounted for
    here too, in one of two ways:

    * a run at k + w is compared with the run at k; if :func:`certified`
      proves that every step in between gives the same outcome, and it does
      not stop, the whole interval is skipped (and the next try is twice as
      wide; after a failed wide try, a normal block follows);
    * otherwise every step of the block is run, from the top down so that
      each run takes lower bounds on rho from the run above it (far fewer
      evaluations), and the first stop is looked for from the bottom up,
      exactly as pabutools steps.  On large elections the lower half of the
      block runs in a forked helper process (see :func:`_helper_pool`).

    No monotonicity is assumed: steps are only skipped with a certificate.
    At most _BLOCK - 1 steps past the answer are run.
    """
    mi = MesInput(prep, kind)
    if prep.n == 0:
        return [], mi, MesRun(), 0
    base = prep.budget / prep.n
    budget = prep.budget
    available = [(p.id, p.cost) for p in mi.projects]

    def status(selected: list[str]) -> str | None:
        outcome = mi.free + selected
        spent = sum((prep.cost[p] for p in outcome), Fraction(0))
        if spent > budget:
            return "over"
        chosen = set(outcome)
        # Exhaustive as in pabutools' add1 loop: only projects with a
        # supporter and a positive cost are considered.
        if all(pid in chosen or spent + cost > budget for pid, cost in available):
            return "done"
        return None

    fast = mi

    def answer(step: int) -> tuple[list[str], MesInput, MesRun, int]:
        run = mes_run(fast, base, step)  # again, with the facts for the explanations
        return mi.free + run.selected, mi, run, step

    run_a = mes_run(mi, base, 0, explain=False)
    if status(run_a.selected) is not None:  # MES at budget / n never overspends
        return answer(0)
    renumber = sum(p.supp.bit_count() for p in mi.projects) >= _RENUMBER_MIN_WORK
    renumbered_at = 0
    if renumber:
        # Same runs with shorter bitsets (see MesInput.renumbered).
        fast = mi.renumbered(run_a)
    with _helper_pool(fast, base) as pool:
        a, width = 0, _BLOCK
        while True:
            b = a + width
            middle = b - 1
            lower = None
            if pool is not None and width == _BLOCK and b - a > 3:
                # The helper starts on the lower half at once: its result is
                # only used if the block is not skipped whole.
                middle = (a + b) // 2
                lower = pool.apply_async(_chain_in_helper, (a + 1, middle, renumber))
            top = mes_run(fast, base, b, reference=run_a, explain=False)
            if renumber and b - renumbered_at >= _RENUMBER_EVERY:
                # Who stays in play drifts with the budget: number voters
                # by the latest run (``top`` is a run of ``fast``).
                fast, renumbered_at = fast.renumbered(top), b
            if width > 1 and status(top.selected) is None and certified(mi, run_a, top):
                # Every step in [a, b] gives the same, non-stopping outcome.
                a, run_a, width = b, top, min(2 * width, _MAX_JUMP)
                continue
            if width > _BLOCK:
                width = _BLOCK  # a wide jump failed: try a normal block instead
                continue
            outcomes = {b: top.selected}
            run = top
            for k in range(b - 1, middle, -1):
                run = mes_run(fast, base, k, hint=run, explain=False)
                outcomes[k] = run.selected
            if lower is not None:
                outcomes.update(lower.get())
            else:
                for k in range(middle, a, -1):
                    run = mes_run(fast, base, k, hint=run, explain=False)
                    outcomes[k] = run.selected
            for k in range(a + 1, b + 1):
                state = status(outcomes[k])
                if state == "over":
                    return answer(k - 1)
                if state == "done":
                    return answer(k)
            a, run_a, width = b, top, _BLOCK


# State a forked helper inherits: (MES input, base budget per voter).
_HELPER_STATE: tuple[MesInput, Fraction] | None = None
_HELPER_RENUMBERED_AT = 0  # in the helper: the step its voters were last renumbered at


def _chain_in_helper(low: int, high: int, renumber: bool = False) -> dict[int, list[str]]:
    """In the helper process: run steps high down to low, each hinted by the one above.

    With ``renumber``, the helper renumbers its own copy of the voters by its
    latest run every _RENUMBER_EVERY steps, as the parent does with its own.
    """
    global _HELPER_STATE, _HELPER_RENUMBERED_AT
    if _HELPER_STATE is None:  # pragma: no cover - only reached in a forked helper
        raise RuntimeError("helper state missing")
    mi, base = _HELPER_STATE
    out: dict[int, list[str]] = {}
    run = None
    for k in range(high, low - 1, -1):
        run = mes_run(mi, base, k, hint=run, explain=False)
        out[k] = run.selected
    if renumber and run is not None and high - _HELPER_RENUMBERED_AT >= _RENUMBER_EVERY:
        _HELPER_STATE, _HELPER_RENUMBERED_AT = (mi.renumbered(run), base), high
    return out


@contextmanager
def _helper_pool(mi: MesInput, base: Fraction):
    """One forked helper process for large add1 searches, or None to run everything here.

    Only used where forking is safe and worth it: Linux, at least two CPUs,
    a single-threaded caller (so no lock can be held across the fork) and a
    large election.  The helper only computes; results do not depend on it.
    """
    global _HELPER_STATE
    work = sum(p.supp.bit_count() for p in mi.projects)
    if (
        work < _HELPER_MIN_WORK
        or not sys.platform.startswith("linux")
        or (os.cpu_count() or 1) < 2
        or threading.active_count() != 1
    ):
        yield None
        return
    _HELPER_STATE = (mi, base)
    try:
        pool = multiprocessing.get_context("fork").Pool(1)
    except (OSError, ImportError, ValueError):  # pragma: no cover - e.g. no semaphores, process limits
        _HELPER_STATE = None
        yield None
        return
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()
        _HELPER_STATE = None
