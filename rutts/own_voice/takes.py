"""Long takes read in script order: their speech pieces matched to the script's sentences by duration (dynamic
programming: a sentence may span pieces split at a comma pause, a sentence may be missing, a stray piece — a cough,
a false start — may be left over)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rutts.own_voice.clips import Recording, Sentence

# Matching pieces of takes to sentences (costs in units of a squared log-duration error of one SIGMA). Durations
# cannot tell which of two neighbours of about the same length was skipped: in 30 simulated readings of 260
# sentences (6 skipped, a seventh split at a comma, lengths ±15 %) 2 of 254 sentences a reading came out shifted
# (SIGMA 0.25 and no pause cost: 3). The Whisper check then sets such clips aside.
SIGMA = 0.2  # spread of a sentence's duration around chars / speaking rate (log scale)
MAX_MERGE = 4  # pieces one sentence may span
MERGE_COST, GAP_COST = 0.3, 2.0  # joining two pieces: a fixed cost plus this much per second of the pause
# A sentence starting after a pause shorter than BOUNDARY_GAP_S costs up to BOUNDARY_COST: reading a script, people
# pause longer between sentences than at a comma.
BOUNDARY_GAP_S, BOUNDARY_COST = 0.7, 3.0
MISS_COST = 4.0  # a sentence inside the read stretch that has no piece
COVERED_MISS_COST = 0.2  # a sentence that has a file of its own: the takes may skip it
JUNK_COST, JUNK_PER_S = 1.0, 2.0  # a piece matched to no sentence (a cough, a false start, a repeat)
RATE_GRID = np.geomspace(6.0, 20.0, 17)  # characters per second tried as her speaking rate


@dataclass(frozen=True)
class _Piece:
    take: int
    start: float
    end: float


def _align(pieces: list[_Piece], sentences: list[Sentence], covered: set[int], rate: float):
    """Least-cost monotone matching of pieces (in order) to sentences (in order); see the costs above.

    Returns (cost, {sentence index: (first piece, last piece)}). Sentences after the last one read cost
    nothing: she may have read only the start of the script.
    """
    n, m = len(sentences), len(pieces)
    start = np.array([p.start for p in pieces])
    end = np.array([p.end for p in pieces])
    take = np.array([p.take for p in pieces])
    junk = JUNK_COST + JUNK_PER_S * (end - start)
    junk_sum = np.concatenate(([0.0], np.cumsum(junk)))
    expected = np.log(np.array([s.chars for s in sentences], float) / rate)
    miss = np.array([COVERED_MISS_COST if s.number in covered else MISS_COST for s in sentences])
    gap_before = np.full(m, np.inf)  # the first piece of a take has no pause before it to judge
    same_take = take[1:] == take[:-1]
    gap_before[1:][same_take] = (start[1:] - end[:-1])[same_take]
    short_pause = BOUNDARY_COST * np.clip((BOUNDARY_GAP_S - gap_before) / BOUNDARY_GAP_S, 0.0, 1.0)
    # group[k][j]: pieces j-k..j (k+1 of them) as one sentence: log span, joining cost; inf across takes
    groups = []
    for k in range(min(MAX_MERGE, m)):
        log_span = np.full(m, np.nan)
        join = np.full(m, np.inf)
        j = np.arange(k, m)
        ok = take[j] == take[j - k]
        log_span[j] = np.log(np.maximum(end[j] - start[j - k], 1e-3))
        gaps = np.zeros(j.size)
        for q in range(k):
            gaps += start[j - q] - end[j - q - 1]
        join[j] = np.where(ok, k * MERGE_COST + GAP_COST * gaps + short_pause[j - k], np.inf)
        groups.append((log_span, join))
    cost = np.empty((n + 1, m + 1))
    choice = np.zeros((n + 1, m + 1), np.int8)  # 0: sentence missing, k>0: k pieces, -1: piece left over
    cost[0] = junk_sum
    choice[0, 1:] = -1
    for i in range(1, n + 1):
        best = cost[i - 1] + miss[i - 1]
        pick = np.zeros(m + 1, np.int8)
        for k, (log_span, join) in enumerate(groups, 1):
            match = 0.5 * ((log_span - expected[i - 1]) / SIGMA) ** 2 + join  # for pieces ending at j (index j-1)
            candidate = np.full(m + 1, np.inf)
            candidate[k:] = cost[i - 1, : m + 1 - k] + np.nan_to_num(match[k - 1:], nan=np.inf)
            better = candidate < best
            best = np.where(better, candidate, best)
            pick = np.where(better, k, pick)
        # leftover pieces: cost[i][j] = min(best[j], cost[i][j-1] + junk[j-1]) as a running minimum
        running = np.minimum.accumulate(best - junk_sum) + junk_sum
        leftover = running < best - 1e-12
        cost[i] = np.where(leftover, running, best)
        choice[i] = np.where(leftover, -1, pick)
    last = int(np.argmin(cost[:, m]))
    matches, i, j = {}, last, m
    while i > 0 or j > 0:
        step = int(choice[i, j]) if i > 0 else -1
        if step == -1:
            j -= 1
        elif step == 0:
            i -= 1
        else:
            matches[i - 1] = (j - step, j - 1)
            i, j = i - 1, j - step
    return float(cost[last, m]), matches


def match_takes(
    takes: list[Recording], sentences: list[Sentence], covered: set[int]
) -> tuple[dict[int, tuple[Recording, float, float]], float | None]:
    """Sentence index → (take, start, end) of its speech, and her speaking rate (chars per second) in the takes."""
    pieces = [_Piece(t, s, e) for t, rec in enumerate(takes) for s, e in rec.pieces]
    if not pieces:
        return {}, None
    best = min((_align(pieces, sentences, covered, rate) + (rate,) for rate in RATE_GRID), key=lambda r: r[0])
    _, matches, rate = best
    for _ in range(2):  # refine the rate on what matched
        if not matches:
            break
        rates = [sentences[i].chars / (pieces[b].end - pieces[a].start) for i, (a, b) in matches.items()]
        rate = float(np.median(rates))
        _, matches = _align(pieces, sentences, covered, rate)
    return {i: (takes[pieces[a].take], pieces[a].start, pieces[b].end) for i, (a, b) in matches.items()}, rate
