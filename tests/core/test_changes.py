"""Changes: what a write changed, merged from several writes, and what a page asks of it."""

from __future__ import annotations

from classhub_desktop.core.changes import ALL_IDS, Changes, Entity, changes_of


def test_merging_keeps_every_id_and_unlisted_ids_stay_unlisted() -> None:
    merged = Changes.of(Entity.STUDENTS, [1, 2]) | Changes.of(Entity.STUDENTS, [3]) | Changes.of(Entity.AUDIT_LOG, [9])
    assert merged.ids(Entity.STUDENTS) == {1, 2, 3} and merged.ids(Entity.AUDIT_LOG) == {9}
    bulk = merged | Changes.of(Entity.STUDENTS)  # a bulk write listed no ids: "some students" wins
    assert bulk.touches(Entity.STUDENTS) and bulk.ids(Entity.STUDENTS) == ALL_IDS
    assert merged.ids(Entity.STUDENTS) == {1, 2, 3}  # values never change in place


def test_a_row_may_have_changed_when_listed_or_when_ids_were_not_listed() -> None:
    listed = Changes.of(Entity.STUDENTS, [7]).with_(Entity.ENROLLMENTS, [70])
    assert listed.may_touch_row(Entity.STUDENTS, 7) and not listed.may_touch_row(Entity.STUDENTS, 8)
    assert Changes.of(Entity.STUDENTS).may_touch_row(Entity.STUDENTS, 8)
    assert not listed.may_touch_row(Entity.TEACHERS, 7) and not listed.touches(Entity.TEACHERS, Entity.BLOCKS)
    assert listed.touches(Entity.TEACHERS, Entity.ENROLLMENTS)


def test_nothing_changed_is_false_and_results_carry_their_changes() -> None:
    assert not Changes.none() and Changes.of(Entity.MERGES, [1])

    class Result:
        changes = Changes.of(Entity.MERGES, [4])

    assert changes_of(Result()).ids(Entity.MERGES) == {4}
    assert changes_of(Changes.of(Entity.VERDICTS, [2])).touches(Entity.VERDICTS)
    assert not changes_of(None) and not changes_of(object())
