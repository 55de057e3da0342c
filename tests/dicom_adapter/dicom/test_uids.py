from __future__ import annotations

import pytest

from dicom_adapter.dicom.uids import is_valid_uid, loose_uid_problem, uid_problem


@pytest.mark.parametrize("uid", ["0", "1.2.3", "1.2.840.10008.5.1.4.1.1.2", "2.25." + "9" * 39, "1." + "2" * 62])
def test_valid_uids(uid):
    assert uid_problem(uid) is None and is_valid_uid(uid)


@pytest.mark.parametrize(
    ("uid", "problem"),
    [
        ("", "empty"),
        ("1." + "2" * 63, "65 characters long (at most 64)"),
        ("1.2.3/9", "not only digits and '.'"),
        ("1.2.3 ", "not only digits and '.'"),
        ("1.2.ä", "not only digits and '.'"),
        ("1..2", "an empty component"),
        (".1.2", "an empty component"),
        ("1.2.", "an empty component"),
        ("1.02", "a component with a leading zero"),
        ("00", "a component with a leading zero"),
    ],
)
def test_invalid_uids_say_why(uid, problem):
    assert uid_problem(uid) == problem and not is_valid_uid(uid)


def test_loose_uids_allow_leading_zeros_but_nothing_that_cannot_name_a_folder():
    assert loose_uid_problem("1.02.0003") is None and loose_uid_problem("1..2") is None
    assert loose_uid_problem("..") == "no digit"
    assert loose_uid_problem("1/2") == "not only digits and '.'"
    assert loose_uid_problem("1" * 65) == "65 characters long (at most 64)"
