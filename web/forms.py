"""The pages' forms: read into the API's request models (``web.schemas``), so a page and
the API hold one set of field limits; a refusal is said in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from web.i18n import english, has_message
from workflow.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

#: The catalogue's name of a field where ``field.<name>`` is not the one the form shows.
LABELS: dict[tuple[str, str], str] = {
    ("CallIn", "name"): "field.call_name",
    ("CountryIn", "name"): "field.country",
    ("UserIn", "country_code"): "field.country",
    ("UserIn", "city_id"): "col.city",
    ("CallIn", "quota"): "col.quota",
    ("CityIn", "name"): "field.city_name",
    ("CityIn", "country_code"): "field.country",
}
_WHY = {
    "one_line": "not_valid",
    "string_too_long": "too_long",
    "string_too_short": "required",
    "missing": "required",
    "date_parsing": "not_date",
    "date_from_datetime_parsing": "not_date",
    "date_from_datetime_inexact": "not_date",
    "date_type": "not_date",
    "int_parsing": "not_number",
    "int_type": "not_number",
    "int_from_float": "not_number",
    "greater_than_equal": "too_small",
    "greater_than": "too_small",
    "less_than_equal": "too_large",
    "less_than": "too_large",
}


def _label_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]) if loc else ""
    if name == "challenges" and len(loc) > 1:
        return f"challenge.{loc[1]}"
    key = LABELS.get((model.__name__, name), f"field.{name}")
    return key if has_message(key) else "field.value"


class FieldRefused(InvalidInput):
    """A form field outside its schema's limits, said in plain words (the field by the
    label the form shows, never its key): ``params["field"]`` is the label's message id,
    so a French page names it in French (see :mod:`web.refusals`)."""

    def __init__(self, why: str, field: str, **numbers: int) -> None:
        numbers_shown = {name: f"{value:,}" for name, value in numbers.items()}
        label = english(field)
        super().__init__(english(f"refusal.invalid_input.{why}", field=label, **numbers_shown))
        self.why = why
        self.params = {"field": field, **numbers}

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"

    @classmethod
    def of(cls, model: type[BaseModel], error: ValidationError) -> FieldRefused:
        first = error.errors(include_url=False)[0]
        why = _WHY.get(first["type"], "not_valid")
        field = _label_key(model, tuple(first["loc"]))
        ctx = first.get("ctx") or {}
        if why == "too_long":
            return cls(why, field, length=len(str(first["input"])), max=int(ctx["max_length"]))
        if why == "too_small":
            return cls(why, field, min=int(ctx.get("ge", ctx.get("gt", 0))))
        if why == "too_large":
            return cls(why, field, max=int(ctx.get("le", ctx.get("lt", 0))))
        return cls(why, field)


def _is_text(field: FieldInfo) -> bool:
    return field.annotation in (str, str | None)


def form_fields(model: type[BaseModel], form: Mapping[str, object]) -> dict[str, object]:
    """The fields of ``model`` in a page's form, as the API would receive them: text as
    typed (CR LF as LF), and a blank date or number left out (its default, or required)."""
    values: dict[str, object] = {}
    for name, field in model.model_fields.items():
        value = form.get(name)
        if not isinstance(value, str):
            continue
        if not _is_text(field):
            value = value.strip()
            if value == "":
                continue
        values[name] = value.replace("\r\n", "\n")
    return values


def from_form(model: type[M], values: Mapping[str, object]) -> M:
    """``model`` built from a page's ``values`` (see :func:`form_fields`): the page
    meets the same limits as the API, or :class:`FieldRefused` names the first field
    outside them."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise FieldRefused.of(model, exc) from None
