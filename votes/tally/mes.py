"""The Method of Equal Shares: one exact MES run over voter bitsets.

Voters are held as bitsets (Python ints), one per project.  MES keeps voters in
classes of equal remaining budget, sorted by budget; since a voter with money
left has always paid full shares, a project's available money follows from a
few popcounts, and its affordability factor from walking the classes from the
richer or the poorer end, whichever is shorter.  Money is kept as integers over
a common denominator that grows when a share needs it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from fractions import Fraction
from functools import reduce
from math import gcd, lcm
from operator import itemgetter, or_

from votes.tally.prepare import Prepared


class MesProject:
    """A project as MES sees it: cost, satisfaction levels and supporters as bitsets."""

    __slots__ = ("idx", "id", "cost", "sig_n", "sig_d", "levels", "mult", "binary", "lb0", "lb0_key", "supp")

    def __init__(self, idx: int, pid: str, cost: Fraction, sig: Fraction, levels: list[tuple[int, int]]):
        self.idx = idx
        self.id = pid
        self.cost = cost
        # A supporter's satisfaction is u * sigma for the u of its level.
        self.sig_n = sig.numerator
        self.sig_d = sig.denominator
        self.levels = levels
        self.binary = len(levels) == 1 and levels[0][0] == 1
        lu = 1
        for u, _ in levels:
            lu = lcm(lu, u)
        # Sorting supporters by budget / u is sorting by budget * (lu // u).
        self.mult = {u: lu // u for u, _ in levels}
        total = sum(u * bits.bit_count() for u, bits in levels)
        self.lb0 = cost / (total * sig)  # pabutools' initial affordability
        self.lb0_key = self.lb0.numerator * KEY_SCALE // self.lb0.denominator
        supp = 0
        for _, bits in levels:
            supp |= bits
        self.supp = supp


class MesInput:
    """MES projects (supported, positive cost) with their supporters as voter bitsets."""

    def __init__(self, prep: Prepared, kind: str) -> None:
        self.prep = prep
        self.kind = kind
        binary_bits: dict[str, int] = {}
        per_project: dict[str, dict[int | Fraction, int]] = {pid: {} for pid in prep.ids}
        if kind in ("cost", "card"):
            # Same satisfaction for every supporter (Cost_Sat: the cost, which
            # makes a free project worth nothing to anyone).
            binary_bits = {
                pid: bits
                for pid, bits in prep.listing_bits().items()
                if bits and (kind == "card" or prep.cost[pid] > 0)
            }
        else:
            per_project = prep.level_bits(kind)
        self.projects: list[MesProject] = []
        self.free: list[str] = []  # supported and free: pabutools funds these up front
        self.unsupported: list[str] = []
        for pid in sorted(prep.ids):
            by_value = per_project[pid]
            if not by_value and pid not in binary_bits:
                self.unsupported.append(pid)
                continue
            if prep.cost[pid] == 0:
                self.free.append(pid)
                continue
            if pid in binary_bits:
                sig = prep.cost[pid] if kind == "cost" else Fraction(1)
                levels = [(1, binary_bits[pid])]
            else:
                num, den = 0, 1
                for value in by_value:
                    value = Fraction(value)
                    num = gcd(num, value.numerator)
                    den = lcm(den, value.denominator)
                sig = Fraction(num, den)
                levels = [(int(value / sig), bits) for value, bits in sorted(by_value.items())]
            self.projects.append(MesProject(len(self.projects), pid, prep.cost[pid], sig, levels))
        self.cost_den = 1
        self.everyone = 0
        for p in self.projects:
            self.cost_den = lcm(self.cost_den, p.cost.denominator)
            self.everyone |= p.supp
        self.all_binary = all(p.binary for p in self.projects)
        # Supporters of both j and s, filled in on demand and kept across runs.
        self.pairs: list[dict[int, int]] = [{} for _ in self.projects]

    def renumbered(self, run: MesRun) -> MesInput:
        """The same input with the voters renumbered: those in play longest in ``run`` first.

        MES does not depend on how voters are numbered (ties go by project
        id, and voters of equal budget are interchangeable), so the copy
        gives the same runs, round for round.  Its bitsets are shorter where
        it matters: a voter who leaves play (no money left, or no remaining
        project supported) tends to do so in the same round at nearby
        budgets, so in later rounds, when there are many budget classes, the
        voters still in play hold the low bits and every AND is short.
        Voters who support no project are left out.
        """
        order: list[int] = []
        seen = 0
        for bits in reversed(run.in_play):
            order += _indices(bits & ~seen)
            seen |= bits
        order += _indices(self.everyone & ~seen)
        # New voter i is old voter order[i]: read the bits as a string (most
        # significant first) and pick the characters in the new order.
        width = max((p.supp.bit_length() for p in self.projects), default=0)
        size = len(order)
        pick = itemgetter(*[width - 1 - order[size - 1 - k] for k in range(size)]) if size else None

        def moved(bits: int) -> int:
            if pick is None:
                return 0
            return int("".join(pick(format(bits, f"0{width}b"))) or "0", 2)

        copy = object.__new__(MesInput)
        copy.__dict__.update(self.__dict__)
        copy.projects = []
        for p in self.projects:
            levels = [(u, moved(bits)) for u, bits in p.levels]
            q = object.__new__(MesProject)
            for name in MesProject.__slots__:
                setattr(q, name, getattr(p, name))
            q.levels = levels
            supp = 0
            for _, bits in levels:
                supp |= bits
            q.supp = supp
            copy.projects.append(q)
        copy.everyone = (1 << len(order)) - 1 if order else 0
        copy.pairs = [{} for _ in self.projects]
        return copy


# Bit positions set in each byte value.
_BYTE_BITS = [tuple(i for i in range(8) if byte >> i & 1) for byte in range(256)]


def _indices(bits: int) -> list[int]:
    """Positions of the set bits of ``bits``, in increasing order."""
    out: list[int] = []
    table = _BYTE_BITS
    for at, byte in enumerate(bits.to_bytes((bits.bit_length() + 7) // 8, "little")):
        if byte:
            base = at << 3
            out += [base + i for i in table[byte]]
    return out


class Round:
    """One MES round as needed to certify runs: the pick, its rho, and how far the scan went."""

    __slots__ = ("s", "theta", "theta_key", "limit", "rhos", "keys")

    def __init__(
        self,
        s: int,
        theta: Fraction,
        theta_key: int,
        limit: int | None,
        rhos: dict[int, Fraction],
        keys: dict[int, int],
    ):
        self.s = s
        self.keys = keys  # lower-bound keys of all projects after this round's evaluations
        self.theta = theta  # rho of the funded project
        self.theta_key = theta_key  # floor(theta * KEY_SCALE)
        # Every project whose stored bound key was <= limit was evaluated (None: all).
        self.limit = limit
        self.rhos = rhos  # exact rho of the affordable projects evaluated this round


class MesRun:
    """Outcome of one MES run, its trace, and the facts used by the explanations."""

    def __init__(self) -> None:
        self.selected: list[str] = []
        self.trace: list[Round] = []
        self.rounds: dict[str, dict] = {}  # funded project -> facts
        self.dropped: dict[str, dict] = {}  # unaffordable project -> facts
        # Voters in play (money left, a remaining project supported) at the
        # start and after each round, as bitsets.
        self.in_play: list[int] = []


_STALE_SHARE = 4  # voters out of play still in the classes: at most alive / this
KEY_SCALE = 1 << 64  # integer sort keys for rho: floor(rho * KEY_SCALE)


def mes_run(
    mi: MesInput,
    base: Fraction,
    step: int = 0,
    reference: MesRun | None = None,
    hint: MesRun | None = None,
    explain: bool = True,
) -> MesRun:
    """One run of MES with ``base + step`` per voter.

    With a ``reference`` run (at a smaller step), each round also evaluates
    every project whose bound is within the reference's rho for that round,
    so that :func:`votes.tally.add1.certified` can compare the two runs.  A ``hint`` run at a
    larger step supplies lower bounds on rho for as long as both runs have
    funded the same projects: with the same history every budget is at most
    the hint's, so every rho is at least the hint's.
    """
    run = MesRun()
    projects = mi.projects
    if not projects:
        return run
    fast = mi.all_binary
    # Money is held as integers in units of 1/q; q grows when a share needs it.
    q = lcm(base.denominator, mi.cost_den)
    costq = [p.cost.numerator * (q // p.cost.denominator) for p in projects]
    b0 = base.numerator * (q // base.denominator) + q * step
    # Voters with equal budgets are interchangeable: (budget, voter bitset)
    # classes sorted by budget.  ``alive`` holds exactly the voters in play:
    # after each round, voters with nothing left and voters who support no
    # remaining project leave it (the latter never count again: every count
    # is over a remaining project's supporters).  The classes drop the former
    # at once and the latter every round (generic) or in batches (binary).
    classes: list[tuple[int, int]] = [(b0, mi.everyone)] if b0 > 0 else []
    alive = mi.everyone if b0 > 0 else 0
    stale = 0  # voters out of play still in the classes (binary case)
    run.in_play.append(alive)
    # Funded (project, payment per voter) so far.  A voter who still has money
    # always paid the full share, so their budget is b0 minus the shares of
    # the funded projects they approve: this gives any project's available
    # money from a few popcounts (binary satisfaction only).
    history: list[tuple[int, int]] = []
    pairs = mi.pairs
    remaining = {p.idx for p in projects}
    lkey = {p.idx: p.lb0_key for p in projects}
    hint_ok = hint is not None
    budget_of = itemgetter(0)

    def eval_binary(p: MesProject) -> tuple[tuple[int, int] | None, int]:
        """((cost - paid by the poor, number of rich), available money) or (None, money)."""
        bits = p.supp
        cnt = (bits & alive).bit_count()
        avail = b0 * cnt
        if history:
            pj = pairs[p.idx]
            for s, pay in history:
                both = pj.get(s)
                if both is None:
                    both = pj[s] = bits & projects[s].supp
                avail -= pay * (both & alive).bit_count()
        cost = costq[p.idx]
        if avail < cost:
            return None, avail
        # pabutools walks supporters from the poorest up until the equal
        # share fits.  The same split can be found walking down from the
        # richest: take the side that the stored bound says is shorter.
        guess = lkey[p.idx] * p.sig_n * q // (p.sig_d * KEY_SCALE)
        if 2 * bisect_left(classes, guess, key=budget_of) < len(classes):
            num = cost
            for v, cb in classes:
                w = (cb & bits).bit_count()
                if w:
                    if num <= v * cnt:
                        break
                    num -= v * w
                    cnt -= w
            return (num, cnt), avail
        top_sum = top_cnt = 0
        for v, cb in reversed(classes):
            w = (cb & bits).bit_count()
            if w:
                s2 = top_sum + v * w
                c2 = top_cnt + w
                if avail - s2 + v * c2 < cost:
                    break
                top_sum, top_cnt = s2, c2
        return (cost - avail + top_sum, top_cnt), avail

    def eval_generic(p: MesProject) -> tuple[tuple[int, int] | None, int]:
        num = costq[p.idx]
        mult = p.mult
        entries = []
        for v, cb in classes:
            for u, lbits in p.levels:
                w = (cb & lbits).bit_count()
                if w:
                    entries.append((v * mult[u], v, u, w))
        avail = sum(e[1] * e[3] for e in entries)
        if avail < num:
            return None, avail
        entries.sort(key=budget_of)
        den = sum(e[2] * e[3] for e in entries)
        for _, v, u, w in entries:
            if num * u <= v * den:
                break
            num -= v * w
            den -= u * w
        return (num, den), avail

    evaluate = eval_binary if fast else eval_generic
    rnd = 0
    while remaining:
        rnd += 1
        ref_key = None
        if reference is not None and rnd <= len(reference.trace):
            ref_key = reference.trace[rnd - 1].theta_key
        if hint_ok and rnd <= len(hint.trace):
            for j, key in hint.trace[rnd - 1].keys.items():
                if key > lkey[j]:
                    lkey[j] = key
        best: Fraction | None = None
        best_key = 0
        tied: list[int] = []
        found: dict[int, tuple[Fraction, tuple[int, int]]] = {}
        limit: int | None = None
        for j in sorted(remaining, key=lkey.__getitem__):
            # Stored values are lower bounds (budgets only shrink), so the
            # scan stops once they exceed the best rho found (or the
            # reference's rho, for the certificate).  Keys are floors of
            # rho * scale: key(j) > floor(best * scale) implies rho_j > best.
            if best is not None:
                threshold = best_key if ref_key is None or ref_key < best_key else ref_key
                if lkey[j] > threshold:
                    limit = threshold if limit is None else min(limit, threshold)
                    break
            p = projects[j]
            if fast and best is not None:
                # Cheap bound first: the share is at least an equal split of
                # the cost among the supporters with money left.
                cnt = (p.supp & alive).bit_count()
                if cnt:
                    key = costq[j] * p.sig_d * KEY_SCALE // (cnt * p.sig_n * q)
                    if key > lkey[j]:
                        lkey[j] = key
                        if key > threshold:
                            limit = threshold if limit is None else min(limit, threshold)
                            continue
            ev, avail = evaluate(p)
            if ev is None:
                remaining.discard(j)
                run.dropped[p.id] = {"left": Fraction(avail, q), "funded_before": len(run.selected)}
                continue
            rho_den = ev[1] * p.sig_n * q
            rho = Fraction(ev[0] * p.sig_d, rho_den)
            lkey[j] = ev[0] * p.sig_d * KEY_SCALE // rho_den
            found[j] = (rho, ev)
            if best is None or rho < best:
                best = rho
                best_key = lkey[j]
                tied = [j]
            elif rho == best:
                tied.append(j)
        if not tied:
            break
        s = min(tied, key=lambda j: projects[j].id)
        sp = projects[s]
        run.trace.append(
            Round(
                s,
                best,
                best_key,
                limit,
                {j: r for j, (r, _) in found.items()},
                {j: lkey[j] for j in remaining},
            )
        )
        hint_ok = hint_ok and len(hint.trace) >= rnd and hint.trace[rnd - 1].s == s
        num, den = found[s][1]

        # The payment per unit of satisfaction is num / den: rescale money by
        # f so that it becomes an integer.
        f = den // gcd(den, num)
        pay = num * f // den
        supp = sp.supp
        payers = (supp & alive).bit_count() if explain else 0
        poor = poor_paid = 0
        history = [(h, hp * f) for h, hp in history] if f > 1 else history
        history.append((s, pay))
        remaining.discard(s)
        if f > 1:
            q *= f
            b0 *= f
            costq = [c * f for c in costq]
        # Voters who support no remaining project no longer matter.
        relevant = 0
        for j in remaining:
            relevant |= projects[j].supp
        if fast:
            # Every supporter owes the same share.  Classes are sorted by
            # budget: those at or below the share pay all they have (and
            # leave), the others keep the difference, in the same order.
            split = bisect_right(classes, num // den, key=budget_of)
            touched = [cb & supp for _, cb in classes]
            low = list(filter(None, touched[:split]))
            if low:
                alive ^= reduce(or_, low)
            # Voters out of play who support no remaining project are taken
            # out of alive at once, but out of the classes (one AND each)
            # only once there are enough of them; payers of s are checked
            # below.  Till then they are never counted (they support no
            # remaining project) nor touched (s was a remaining project).
            gone = alive & ~relevant
            if gone:
                alive ^= gone
                stale += (gone & ~supp).bit_count()
            if explain:
                for (v, _), t in zip(classes[:split], touched[:split], strict=True):
                    if t and v * den < num:  # could not pay the share: paid everything left
                        w = t.bit_count()
                        poor += w
                        poor_paid += v * f * w
            pairs_now = zip(classes, touched, strict=True)
            if _STALE_SHARE * stale > alive.bit_count():
                stale = 0
                if f > 1:
                    kept = [(v * f, x) for (v, cb), t in pairs_now if (x := (cb ^ t) & alive)]
                else:
                    kept = [(v, x) for (v, cb), t in pairs_now if (x := (cb ^ t) & alive)]
            elif f > 1:
                kept = [(v * f, cb ^ t if t else cb) for (v, cb), t in pairs_now if cb != t]
            else:
                kept = [c if not t else (c[0], c[1] ^ t) for c, t in pairs_now if c[1] != t]
            moved = zip(classes[split:], touched[split:], strict=True)
            if f > 1:
                kept += [(v * f - pay, x) for (v, _), t in moved if t and (x := t & relevant)]
            else:
                kept += [(v - pay, x) for (v, _), t in moved if t and (x := t & relevant)]
        else:
            kept = []
            for v, cb in classes:
                v *= f
                touched = cb & supp
                if cb != touched:
                    kept.append((v, cb ^ touched))
                if not touched:
                    continue
                for u, lbits in sp.levels:
                    part = touched & lbits
                    if not part:
                        continue
                    nv = v - u * pay
                    if nv > 0:
                        kept.append((nv, part))
                        continue
                    alive ^= part
                    if nv < 0:  # could not pay rho * sat: paid everything left
                        w = part.bit_count()
                        poor += w
                        poor_paid += v * w
            alive &= relevant
            kept = [(v, x) for v, cb in kept if (x := cb & relevant)]
        # Equal budgets may sit in separate classes: the scans treat them alike.
        kept.sort(key=budget_of)
        classes = kept
        run.in_play.append(alive)
        run.selected.append(sp.id)
        run.rounds[sp.id] = {
            "round": rnd,
            # Per voter (one level of 1), else per unit of satisfaction (sat = u * sigma).
            "share": Fraction(pay, q) if sp.binary else Fraction(pay * sp.sig_d, q * sp.sig_n),
            "per_unit": not sp.binary,
            "payers": payers - poor,
            "poor": poor,
            "poor_paid": Fraction(poor_paid, q),
        }
    return run


def mes(prep: Prepared, kind: str) -> tuple[list[str], MesInput, MesRun]:
    """pabutools' method_of_equal_shares with no completion."""
    mi = MesInput(prep, kind)
    if prep.n == 0:  # pabutools returns the empty allocation, even for free projects
        return [], mi, MesRun()
    run = mes_run(mi, prep.budget / prep.n)
    return mi.free + run.selected, mi, run
