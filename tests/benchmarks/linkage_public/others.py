"""The two tools we compare with, each set up as its documentation sets it up for such data.

Splink 4 (DuckDB backend), after its FEBRL3 / FEBRL4 examples: blocking rules on the names (also
swapped), the birth date, the identifier and the address; name comparisons (Jaro-Winkler levels,
term-frequency adjustment), the birth date (exact, one edit, 1 month / 1 year / 10 years apart), the
identifier and postcode (Damerau-Levenshtein levels), street number (exact, TF), street and suburb
(Jaro-Winkler); the prior from deterministic rules, u from 1e6 random pairs, m by expectation
maximisation on two blocking rules; a match is a predicted pair with match probability >= 0.5.

recordlinkage's ECM classifier, after its tutorial: an Index made of several blocks (the union of
their pairs), binary features (Jaro-Winkler >= 0.85 for names and street, exact for the rest,
Damerau-Levenshtein >= 0.85 for the identifier), the unsupervised ECM classifier's matches.

The census data (pseudopeople) has no identifier, and its city and postal code are one placeholder
for everybody ("Anytown", "00000"): those fields are left out of the blocking and the comparisons,
which use the middle initial and the unit number instead.

Both runs are timed from the data frame given to the tool to the set of matched pairs; the time to
read the public data set itself is not counted (for any tool).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd

from tests.benchmarks.linkage_public.data import FIELDS, LinkageData, pair
from tests.benchmarks.linkage_public.report import ToolRun

MATCH_PROBABILITY = 0.5
DETERMINISTIC_RECALL = 0.8  # the share of true pairs the deterministic rules are assumed to catch (the prior)
U_MAX_PAIRS = 1e6
SEED = 1


def _inputs(data: LinkageData) -> list[pd.DataFrame]:
    frame = data.records[[*FIELDS, "source"]].reset_index()
    if not data.link_only:
        return [frame]
    return [part.reset_index(drop=True) for _source, part in frame.groupby("source", sort=True)]


# --- Splink -------------------------------------------------------------------------------------------------


def _splink_settings(data: LinkageData) -> tuple[Any, list[Any], list[Any]]:
    """(settings, deterministic rules for the prior, EM blocking rules)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    swapped = "l.given_name = r.surname and l.surname = r.given_name"
    names = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        # YYYY-MM-DD text: Splink 4.0's date-difference levels read that format whatever datetime_format says
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, invalid_dates_as_null=True),
    ]
    if data.kind == "febrl":
        rules = [
            block_on("given_name", "surname"), swapped, block_on("date_of_birth"), block_on("soc_sec_id"),
            block_on("street_number", "address_1"), block_on("postcode"),
        ]  # fmt: skip
        comparisons = [
            *names,
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.8]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ]
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
        em = [block_on("date_of_birth"), block_on("postcode")]
    else:
        rules = [
            block_on("given_name", "surname"), swapped, block_on("date_of_birth"),
            block_on("surname", "street_number"), block_on("given_name", "street_number"),
        ]  # fmt: skip
        comparisons = [
            *names,
            cl.ExactMatch("middle_initial"),
            # one comparison of the whole address (number, street, unit), as Splink's pseudopeople example
            # does: a household's street number and street are not independent evidence
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]).configure(term_frequency_adjustments=True),
        ]
        deterministic = [block_on("given_name", "surname", "date_of_birth")]
        em = [block_on("date_of_birth"), block_on("given_name", "surname")]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only" if data.link_only else "dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=comparisons,
    )
    return settings, deterministic, em


def run_splink(data: LinkageData) -> ToolRun:
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    frames = [frame.astype(object).where(frame.notna(), None) for frame in _inputs(data)]
    if data.kind == "census":
        for frame in frames:
            frame["address"] = [
                " ".join(p for p in (n, s, f"unit {u}" if u else None) if p) if s else None
                for n, s, u in zip(frame["street_number"], frame["address_1"], frame["unit"], strict=True)
            ]
    settings, deterministic, em = _splink_settings(data)
    linker = Linker(frames if len(frames) > 1 else frames[0], settings, DuckDBAPI(), set_up_basic_logging=False)
    loaded = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=DETERMINISTIC_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    trained = time.perf_counter()
    predictions = linker.inference.predict()  # every blocked pair, with its probability
    rows = predictions.as_duckdbpyrelation().select("rec_id_l, rec_id_r, match_probability").fetchall()
    done = time.perf_counter()
    probabilities = {pair(str(a), str(b)): float(p) for a, b, p in rows}
    found = {p for p, probability in probabilities.items() if probability >= MATCH_PROBABILITY}
    return ToolRun(
        "Splink",
        found=data.counted(found),
        candidates=data.counted(probabilities),
        seconds=done - started,
        parts=(("load", loaded - started), ("train", trained - loaded), ("predict", done - trained)),
        probabilities=probabilities,
    )


# --- recordlinkage ECM --------------------------------------------------------------------------------------


def run_ecm(data: LinkageData) -> ToolRun:
    import recordlinkage as rl

    started = time.perf_counter()
    frames = [frame.set_index("rec_id") for frame in _inputs(data)]
    indexer = rl.Index()
    compare = rl.Compare()
    names = 0.85
    compare.string("given_name", "given_name", method="jarowinkler", threshold=names, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=names, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("street_number", "street_number", label="street_number")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=names, label="address_1")
    if data.kind == "febrl":
        for column in ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode"):
            indexer.block(column)
        indexer.sortedneighbourhood("surname", window=5)
        compare.string("soc_sec_id", "soc_sec_id", method="damerau_levenshtein", threshold=names, label="soc_sec_id")
        compare.string("suburb", "suburb", method="jarowinkler", threshold=names, label="suburb")
        compare.exact("postcode", "postcode", label="postcode")
    else:
        for columns in (["given_name", "surname"], ["date_of_birth"], ["surname", "street_number"],
                        ["given_name", "street_number"]):  # fmt: skip
            indexer.block(columns)
        indexer.sortedneighbourhood("surname", window=5, block_on=["given_name"])
        compare.exact("middle_initial", "middle_initial", label="middle_initial")
        compare.exact("unit", "unit", label="unit")
    candidates = indexer.index(*frames)
    indexed = time.perf_counter()
    features = compare.compute(candidates, *frames)
    compared = time.perf_counter()
    matches = rl.ECMClassifier(binarize=None).fit_predict(features)
    done = time.perf_counter()
    return ToolRun(
        "ECM",
        found=data.counted(pair(str(a), str(b)) for a, b in matches),
        candidates=data.counted(pair(str(a), str(b)) for a, b in candidates),
        seconds=done - started,
        parts=(("index", indexed - started), ("compare", compared - indexed), ("classify", done - compared)),
    )
