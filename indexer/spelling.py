"""did_you_mean: the closest known word to a misspelt one, from the index's own vocabulary.

Whoosh's corrector walks every term of every segment through a Levenshtein automaton: over 100 ms
on a 10,000-article index with several segments. Here the vocabulary of one index version is read
once into a delete-neighbourhood table (the SymSpell idea): a word and each one-letter deletion of
it point back to the word, so a lookup is a few dictionary hits plus exact distances on a handful
of candidates.
"""

from __future__ import annotations

from collections import defaultdict


def edit_distance(a: str, b: str) -> int:
    """Edits between a and b, a swap of two neighbouring letters counting as one ("chrat" → "chart")."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def _deletes(word: str, depth: int) -> set[str]:
    found, frontier = set(), {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))} - found
        found |= frontier
    return found


class Speller:
    """Suggests the closest vocabulary word (fewest edits, then most documents)."""

    def __init__(self, frequencies: dict[str, int]):
        self.frequencies = frequencies
        self.table: dict[str, list[str]] = defaultdict(list)
        for word in frequencies:
            self.table[word].append(word)
            for deleted in _deletes(word, 2 if len(word) >= 5 else 1):
                self.table[deleted].append(word)

    def suggest(self, word: str, maxdist: int = 2) -> str | None:
        """The best correction within maxdist edits, or None; never the word itself."""
        candidates = set(self.table.get(word, ()))
        for deleted in _deletes(word, maxdist):
            candidates.update(self.table.get(deleted, ()))
        candidates.discard(word)
        scored = [(edit_distance(word, c), -self.frequencies[c], c) for c in candidates]
        scored = [s for s in scored if s[0] <= maxdist]
        return min(scored)[2] if scored else None
