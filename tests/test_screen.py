"""The bulk screen of trial rows never lets through a row the store's per-row check refuses, and
names no row that check accepts when the rows are as a sweep writes them."""

from __future__ import annotations

import json

from nas.records import screen, store
from nas.records.rows import row_fields
from tests.test_bad_rows import BAD_ROWS, GONE, SPEC_STAGE

GOOD = {
    "trial_index": 2,
    "space": "anynet_x_a",
    "experiment": "toy",
    "seed": 7,
    "model_id": "abc",
    "spec": {"stages": [SPEC_STAGE, {**SPEC_STAGE, "params": {"g": 8}}], "stem": {}, "head": {}},
    "values": {"d1": 1, "w1": 8},
    "complexity": {"flops": 10, "params": 3, "acts": 0},
    "status": "ok",
    "reason": "",
    "error": 12.5,
    "epochs": 2,
    "wall_time": 1.5,
}
ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    7,
    2.5,
    -0.5,
    101,
    float("nan"),
    float("inf"),
    10**400,
    "",
    "ok",
    [],
    [1],
    {},
    {"a": 1},
]


def _changed(change: dict) -> dict:
    row = json.loads(json.dumps(GOOD))
    for key, value in change.items():
        if value is GONE:
            row.pop(key, None)
        else:
            row[key] = value
    return row


def _screened(rows: list[dict], planned: int | None = 6) -> tuple[set[int], set[int]]:
    """(positions the screen names, positions the per-row check refuses)."""
    refused = {k for k, r in enumerate(rows) if store._row_problem(r, planned)}
    return screen.suspects(rows, planned), refused


def test_good_rows_pass_and_every_catalogued_bad_row_is_named():
    bad = [_changed(change) for change, _ in BAD_ROWS.values()]
    rows = [
        GOOD,
        *bad,
        _changed({"status": "failed", "error": None}),
        _changed({"reason": GONE, "seed": GONE}),
    ]
    named, refused = _screened(rows)
    assert refused == set(range(1, len(bad) + 1))  # the catalogue is all refused, the rest accepted
    assert named == refused


def test_no_odd_value_in_any_field_gets_past_the_screen():
    spec_changes = [{"stages": v} for v in ODD_VALUES] + [{"stem": v} for v in ODD_VALUES]
    stage_changes = [{key: v} for key in ("block", "depth", "width", "params") for v in ODD_VALUES]
    rows = [_changed({name: v}) for name in row_fields() for v in [*ODD_VALUES, GONE]]
    rows += [_changed({"spec": {**GOOD["spec"], **c}}) for c in spec_changes]
    rows += [_changed({"spec": {"stages": [SPEC_STAGE, {**SPEC_STAGE, **c}]}}) for c in stage_changes]
    rows += [_changed({"complexity": {"flops": v}}) for v in ODD_VALUES]
    for planned in (6, None):
        named, refused = _screened(rows, planned)
        assert refused <= named, sorted(refused - named)[:5]
        assert len(refused) > 300
