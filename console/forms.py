"""Flask-WTF forms of the console, one per page or action: login and logout, the mail folders
(filters and page, the payload editor with handler and identifier, reject and undo-reject,
re-run, bulk re-run), the template editor (edit, restore), the history's filters and the
admins' account forms (create, role, enable or disable, password). Every POST form carries
the CSRF token; GET filter forms change nothing and have none, so their URLs can be
bookmarked."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from console.users import MIN_PASSWORD_LENGTH, ROLES, USERNAME


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"), validators=[DataRequired(message=_l("Enter your username."))]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Enter your password."))]
    )
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


def choices(first_label: str, names: list[str]) -> list[SelectChoice]:
    """Select options: an empty first option, then one per name."""
    return [SelectChoice("", first_label), *(SelectChoice(n, n) for n in names)]


class LogoutForm(FlaskForm):
    """Logging out is a POST so that a link on another site cannot do it."""


# Query-string bounds: anything outside is a form error, never a database overflow or a 500.
MAX_PER_PAGE = 500
# Deep OFFSETs scan every row before them; older events are reached by narrowing the dates.
MAX_PAGE = 10_000
# The mail lists' page sizes (a bigger one is a form error, not a slow page).
MAX_LIST_PER_PAGE = 200


class FilterForm(FlaskForm):
    """A mail folder's list filters and page (GET, no CSRF needed: it changes nothing).

    Every query-string parameter the list reads is a field, so a page past the last one or a
    huge page size is shown back as an error to fix (never a 500, never the first page)."""

    class Meta:
        csrf = False

    sender = StringField(_l("Sender"), validators=[Optional(), Length(max=200)])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])
    handler = SelectField(_l("Handler"), validators=[Optional()], choices=[])
    page = IntegerField(
        _l("Page"),
        validators=[
            Optional(),
            NumberRange(1, MAX_PAGE, message=_l("Enter a page from 1 to %(max)s.", max=MAX_PAGE)),
        ],
    )
    per_page = IntegerField(
        _l("Messages per page"),
        validators=[
            Optional(),
            NumberRange(
                1,
                MAX_LIST_PER_PAGE,
                message=_l("Enter a number from 1 to %(max)s.", max=MAX_LIST_PER_PAGE),
            ),
        ],
    )

    def problems(self) -> list[tuple[str, str]]:
        """(field label, message) of every error, for the results pane (htmx swaps only it)."""
        return [(f.label.text, e) for f in self for e in f.errors]


class PayloadForm(FlaskForm):
    payload = TextAreaField(
        _l("Payload"), validators=[DataRequired(message=_l("The payload cannot be empty."))]
    )
    syntax = SelectField(
        _l("Format"),
        choices=[SelectChoice("json", "JSON"), SelectChoice("yaml", "YAML")],
        default="json",
    )
    handler = SelectField(_l("Handler"), choices=[], validators=[Optional()])
    identifier = StringField(
        _l("Identifier"),
        validators=[Optional(), Length(max=200)],
        description=_l("The file this mail belongs to; type part of it for suggestions."),
    )


def _note(label: Any, example: Any) -> TextAreaField:
    """An operator's note on an action, required: the next person reads why."""
    return TextAreaField(
        label,
        validators=[
            DataRequired(
                message=_l("Say why, so the next person knows (e.g. %(example)s).", example=example)
            ),
            Length(max=2000, message=_l("Keep the note under 2000 characters.")),
        ],
    )


class RejectForm(FlaskForm):
    note = _note(_l("Why is it rejected?"), _l("'spam', 'duplicate'"))


class UndoRejectForm(FlaskForm):
    """Take a rejected mail back to `failed`: the note says why, for the timeline."""

    note = _note(_l("Why is it taken back?"), _l("'rejected by mistake'"))


class RerunForm(FlaskForm):
    """Re-run one failed message unchanged (a button): carries just the CSRF token."""


class BulkForm(FlaskForm):
    """Bulk re-run of the selected UIDs (checkbox values are read from request.form)."""


# -- the template editor (console.authoring) ------------------------------------------------


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=64)])
    handler = SelectField(_l("Handler"), choices=[], validators=[Optional()], validate_choice=False)
    subject = StringField(_l("Subject"), validators=[Length(max=998)])
    body = TextAreaField(_l("Body (Markdown)"))
    sample_data = TextAreaField(_l("Sample data (JSON)"))
    note = StringField(_l("Change note"), validators=[Length(max=500)])
    base = HiddenField()


class RestoreForm(FlaskForm):
    """Restore an old template version (a button): the CSRF token only."""


# -- the history's filters (console.history) -----------------------------------------------

DATE_MIN = date(1970, 1, 1)
DATE_MAX = date(2999, 12, 31)


def _plausible_date(form: FlaskForm, field: Field) -> None:
    # Dates near the ends of the calendar overflow date arithmetic (the chart's period).
    if field.data and not DATE_MIN <= field.data <= DATE_MAX:
        raise ValidationError(
            _("Enter a date between %(first)s and %(last)s.", first=DATE_MIN, last=DATE_MAX)
        )


class HistoryFilter(FlaskForm):
    """Search filters (GET: they change nothing, so no CSRF token in bookmarkable URLs).

    Every query-string parameter the page reads is a field here, so each is validated and a
    bad one is shown back with what to fix."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), validators=[Optional(), _plausible_date])
    until = DateField(_l("To (inclusive)"), validators=[Optional(), _plausible_date])
    status = SelectField(_l("Status"), choices=[], validators=[Optional()])
    handler = SelectField(_l("Handler"), choices=[], validators=[Optional()])
    kind = SelectField(_l("Event"), choices=[], validators=[Optional()])
    sender = StringField(_l("Sender"), validators=[Optional(), Length(max=200)])
    identifier = StringField(_l("Identifier"), validators=[Optional(), Length(max=200)])
    page = IntegerField(
        _l("Page"),
        validators=[
            Optional(),
            NumberRange(
                1,
                MAX_PAGE,
                message=_l(
                    "Enter a page from 1 to %(max)s; narrow the dates to see older events.",
                    max=MAX_PAGE,
                ),
            ),
        ],
    )
    per_page = IntegerField(
        _l("Events per page"),
        validators=[
            Optional(),
            NumberRange(
                1, MAX_PER_PAGE, message=_l("Enter a number from 1 to %(max)s.", max=MAX_PER_PAGE)
            ),
        ],
    )

    def problems(self) -> list[tuple[str, str]]:
        """(field label, message) of every error, for the results pane (htmx swaps only it)."""
        return [(f.label.text, e) for f in self for e in f.errors]

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date is before the start date: swap them."))


# -- accounts (console.admin) ----------------------------------------------------------

ROLE_CHOICES = [
    SelectChoice("operator", _l("operator — fixes failed mail")),
    SelectChoice("author", _l("author — edits outbound templates")),
    SelectChoice("admin", _l("admin — everything, including accounts")),
]
assert [c.value for c in ROLE_CHOICES] == list(ROLES)

_PASSWORD_HELP = _l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
_TOO_SHORT = _l("Too short: at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
_EMAIL_HELP = _l("Enter an address such as ada@example.com.")


class CreateUserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(message=_l("Enter a username.")),
            Regexp(
                USERNAME.pattern,
                message=_l(
                    "Use 2-64 letters, digits, '.', '_', '@' or '-', starting with a "
                    "letter or digit."
                ),
            ),
        ],
    )
    email = EmailField(
        _l("E-mail (for test sends)"),
        validators=[
            Optional(),
            Length(max=254, message=_l("Too long for an e-mail address.")),
            # Deliberately loose: the test send is what proves an address works.
            Regexp(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$", message=_EMAIL_HELP),
        ],
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="operator")
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=_l("Enter a password.")),
            Length(min=MIN_PASSWORD_LENGTH, message=_TOO_SHORT),
        ],
        description=_PASSWORD_HELP,
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", message=_l("The two passwords differ: type them again."))],
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class ActiveForm(FlaskForm):
    """Enable or disable: the button carries the target state."""


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(message=_l("Enter a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("Too short: at least %(num)s characters.", num=MIN_PASSWORD_LENGTH),
            ),
        ],
    )
