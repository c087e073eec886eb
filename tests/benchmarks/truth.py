"""Scoring found duplicate pairs against a benchmark's truth (shared by the duplicate benchmarks)."""

from __future__ import annotations


def precision_recall_f1(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the pairs `found` against the `truth` pairs (both as (low id, high id))."""
    true_positives = len(found & truth)
    precision = true_positives / len(found) if found else 0.0
    recall = true_positives / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
