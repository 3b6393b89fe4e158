"""One limit per staff-form field: the column's length where the value is stored."""

from __future__ import annotations

from intake.forms import max_length
from intake.models import Applicant
from plumbing.settings import FormField


def test_the_form_limit_of_a_stored_field_is_its_column_length():
    owner = FormField(key="owner_name", label="Họ tên chủ tàu")
    gear = FormField(key="main_gear", label="Nghề khai thác chính")
    assert max_length(owner) == Applicant.__table__.c.name.type.length
    assert max_length(gear) == 300
