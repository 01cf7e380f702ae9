"""Flask-WTF forms of the console (every form carries the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(message="Enter your username.")])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


def choices(first_label: str, names: list[str]) -> list[SelectChoice]:
    """Select options: an empty first option, then one per name."""
    return [SelectChoice("", first_label), *(SelectChoice(n, n) for n in names)]


class LogoutForm(FlaskForm):
    """Logging out is a POST so that a link on another site cannot do it."""


class FilterForm(FlaskForm):
    """The failed list's filters (GET, no CSRF needed: it changes nothing)."""

    class Meta:
        csrf = False

    sender = StringField("Sender", validators=[Optional(), Length(max=200)])
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])
    handler = SelectField("Handler", validators=[Optional()], choices=[])


class PayloadForm(FlaskForm):
    payload = TextAreaField(
        "Payload", validators=[DataRequired(message="The payload cannot be empty.")]
    )
    syntax = SelectField(
        "Format",
        choices=[SelectChoice("json", "JSON"), SelectChoice("yaml", "YAML")],
        default="json",
    )
    handler = SelectField("Handler", choices=[], validators=[Optional()])


class RejectForm(FlaskForm):
    note = TextAreaField(
        "Why is it rejected?",
        validators=[
            DataRequired(message="Say why, so the next person knows (e.g. 'spam', 'duplicate')."),
            Length(max=2000, message="Keep the note under 2000 characters."),
        ],
    )


class ActionForm(FlaskForm):
    """A button-only action (re-run): carries just the CSRF token."""


class BulkForm(FlaskForm):
    """Bulk re-run of the selected UIDs (checkbox values are read from request.form)."""
