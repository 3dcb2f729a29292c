"""Website forms: a form key's configuration and the checks a browser's post must pass.
Pure; the API applies them."""

from __future__ import annotations

from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from services.intake.domain.normalize import Submission

FORM_FIELDS = ("email", "name", "company", "title", "phone", "country")


class FormConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    source: str = Field(default="web_form", max_length=100)
    campaign: str | None = Field(default=None, max_length=200)
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Exact origins (scheme://host[:port]) whose pages may post this form.",
    )
    redirect_url: AnyHttpUrl | None = Field(
        default=None, description="Where a browser is sent (303) after a form post."
    )
    honeypot_field: str = Field(
        default="website",
        max_length=100,
        description="A field hidden from people; a bot that fills it is answered but ignored.",
    )


def origin_allowed(config: FormConfig, origin: str | None) -> bool:
    """A browser always sends Origin on a cross-site POST; a post without one, or from a
    page not listed, is refused."""
    if origin is None:
        return False
    return origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in config.allowed_origins}


def is_bot(config: FormConfig, fields: dict[str, Any]) -> bool:
    return bool(str(fields.get(config.honeypot_field) or "").strip())


def submission_of(config: FormConfig, fields: dict[str, Any]) -> Submission:
    """What the form sent, as a submission of the form's source and campaign. Values that
    are not text (a JSON object where a name belongs) are left for validation to refuse."""

    def text(name: str) -> str | None:
        value = fields.get(name)
        return value if isinstance(value, str) else None if value is None else str(value)

    return Submission(
        email=text("email") or "",
        **{name: text(name) for name in FORM_FIELDS if name != "email"},
        source=config.source,
        campaign=config.campaign,
    )
