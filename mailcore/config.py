"""Settings: a TOML file, overridden by ``MAILCORE_*`` environment variables (the environment wins).

File layout (every key optional; top-level keys are the `Settings` fields)::

    imap_url = "imaps://ops@mail.example.com/"   # or: maildir = "/var/lib/mailcore/mail"
    imap_password = "..."                        # better: MAILCORE_IMAP_PASSWORD
    proxy = "socks5://127.0.0.1:1080"
    database_url = "sqlite:///mailcore.db"
    retention_days = 365
    poll_interval = 60
    handlers = "myapp.mail:registry"

    [folders]          # inbox, processed, failed, auto, rejected
    failed = "Failed"

    [ident]            # how reply identifiers are written: reply+<id>@domain
    domain = "example.com"

    [[mailboxes]]      # more mailboxes, each its own name, mailbox, handlers, folders, ident
    name = "orders"
    imap_url = "imaps://orders@mail.example.com/"
    handlers = "myapp.orders:registry"
    [mailboxes.folders]
    failed = "orders-failed"

The top-level mailbox is the one named "default"; an entry takes what it leaves unset from the
top level, except the mailbox and its credentials (`MAILBOX_KEYS`, `Settings.all_mailboxes`).

Environment: ``MAILCORE_<FIELD>`` (``MAILCORE_DATABASE_URL``), ``MAILCORE_FOLDERS_<NAME>``
(``MAILCORE_FOLDERS_FAILED``) and ``MAILCORE_IDENT_<NAME>``; ``MAILCORE_MAILBOXES_<NAME>_<KEY>``
for an entry (``MAILCORE_MAILBOXES_ORDERS_IMAP_PASSWORD``, ``..._ORDERS_FOLDERS_FAILED``);
``MAILCORE_CONFIG`` names the file.
Other tables (``[console]``...) are kept as they are in `Settings.sections` for their owners,
with ``MAILCORE_<TABLE>_<KEY>`` overriding them too.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailcore.errors import ConfigError

if TYPE_CHECKING:
    from mailcore.ident import IdentScheme
    from mailcore.mailboxes.protocol import Mailbox
    from mailcore.oauth2.source import TokenSource
    from mailcore.processing.engine import Limits

ENV_PREFIX = "MAILCORE_"
# The name of the mailbox the top-level keys describe (imap_url or maildir, folders, ident...).
DEFAULT_MAILBOX = "default"


@dataclass(frozen=True)
class Folders:
    """Where the engine files messages."""

    inbox: str = "INBOX"
    processed: str = "processed"
    failed: str = "failed"
    auto: str = "auto-replies"
    rejected: str = "rejected"


@dataclass(frozen=True)
class Ident:
    """How identifiers are written in reply addresses (see `mailcore.ident.IdentScheme`)."""

    local_part: str = "reply"
    separator: str = "+"
    domain: str = "example.com"


@dataclass
class Settings:
    """Everything the poller, the console and the demo need to run."""

    imap_url: str | None = None
    imap_password: str | None = None  # overrides the URL's password; never logged
    imap_oauth2_token: str | None = None
    maildir: str | None = None
    proxy: str | None = None
    ca_file: str | None = None
    use_move: bool = True
    imap_timeout: float = 30.0
    folders: Folders = field(default_factory=Folders)
    ident: Ident = field(default_factory=Ident)
    database_url: str = "sqlite:///mailcore.db"
    retention_days: int | None = 365
    poll_interval: float = 60.0
    batch_size: int = 200
    # seconds after which another engine process takes over the claims of one that died
    claim_lease: float = 120.0
    handler_workers: int = 1  # handlers run at once in one poller, in order per identifier
    extract_processes: int = 1  # 1: a child process extracts large batches; 0: in-line
    max_message_size: int = 25 * 1024 * 1024  # bytes; larger mail is filed in failed unparsed
    batch_bytes: int = 64 * 1024 * 1024  # what one poll fetches at most (one message at least)
    handlers: str | None = None  # "module:attribute" of a mailcore.processing.registry.Registry
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None  # the file read, for messages
    # Which mailbox these settings describe, and the [[mailboxes]] entries (each a Settings
    # of its own, unset keys taken from the top level); see `all_mailboxes`.
    mailbox_name: str = DEFAULT_MAILBOX
    mailboxes: tuple[Settings, ...] = ()

    @property
    def scheme(self) -> IdentScheme:
        from mailcore.ident import IdentScheme  # on use: `mailcore ingest` starts per mail

        return IdentScheme(self.ident.local_part, self.ident.separator, self.ident.domain)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Read `path` (or $MAILCORE_CONFIG, or nothing), then apply MAILCORE_* variables."""
        env = os.environ if env is None else env
        path = path or env.get(ENV_PREFIX + "CONFIG") or None
        data: dict[str, Any] = {}
        source = None
        if path is not None:
            source = os.fspath(path)
            try:
                data = tomllib.loads(Path(source).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"config file {source} does not exist") from None
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"config file {source} is not valid TOML: {e}") from None
        return cls.from_mapping(data, env, source=source)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> Settings:
        """Settings from parsed TOML `data` with `env` overrides, checking every value."""
        env = {} if env is None else env
        where = source or "settings"
        hints = typing.get_type_hints(cls)
        plain = {f.name for f in dataclasses.fields(cls)} - _NOT_PLAIN
        values: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        entries = data.get("mailboxes", [])
        for key, value in data.items():
            if key == "mailboxes":
                continue
            if key in plain:
                values[key] = _coerce(key, value, hints[key], where)
            elif isinstance(value, dict):
                sections[key] = dict(value)
            else:
                raise ConfigError(
                    f"unknown setting {key!r} in {where}; known: {', '.join(sorted(plain))}"
                )
        for name in sorted(plain):
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _coerce(name, raw, hints[name], ENV_PREFIX + name.upper())
        # Any other MAILCORE_<TABLE>_<KEY> sets a key of a table: [folders], [ident], [console]...
        for var, raw in env.items():
            rest = var[len(ENV_PREFIX) :].lower()
            if not var.startswith(ENV_PREFIX) or rest in plain or rest == "config":
                continue
            if rest.startswith("mailboxes_"):  # a [[mailboxes]] entry's: see _entries
                continue
            table, sep, key = rest.partition("_")
            if sep and key:
                sections.setdefault(table, {})[key] = raw
        folders = _table(Folders, sections.pop("folders", {}), where, "folders")
        ident = _table(Ident, sections.pop("ident", {}), where, "ident")
        sections = {k: v for k, v in sections.items() if v}
        settings = cls(**values, folders=folders, ident=ident, sections=sections, source=source)
        settings.check()
        settings.mailboxes = _entries(settings, entries, env, where)
        return settings

    def all_mailboxes(self) -> list[Settings]:
        """Every mailbox configured, each as the Settings to open and poll it with: the
        top-level one ("default"), unless only [[mailboxes]] entries name a mailbox, then
        the entries in the order written."""
        alone = self.mailboxes and not (self.imap_url or self.maildir)
        return [*([] if alone else [self]), *self.mailboxes]

    def mailbox(self, name: str) -> Settings:
        """The mailbox configured as `name`; ConfigError naming those there are."""
        for settings in self.all_mailboxes():
            if settings.mailbox_name == name:
                return settings
        known = ", ".join(s.mailbox_name for s in self.all_mailboxes())
        raise ConfigError(f"no mailbox named {name!r} is configured; there are: {known}")

    def check(self) -> None:
        """Raise ConfigError naming the first setting that cannot work."""
        if self.imap_url and self.maildir:
            raise ConfigError("set either imap_url or maildir, not both")
        if self.imap_url and not self.imap_url.startswith(("imap://", "imaps://")):
            raise ConfigError(
                f"imap_url must start with imap:// or imaps://, not {self.imap_url!r}"
            )
        if self.proxy and not self.proxy.startswith(("http://", "socks5://", "socks4://")):
            raise ConfigError(
                f"proxy must be http://host:port or socks5://host:port: {self.proxy!r}"
            )
        if "://" not in self.database_url:
            raise ConfigError(
                f"database_url must be a URL such as sqlite:///mailcore.db: {self.database_url!r}"
            )
        if self.retention_days is not None and self.retention_days < 1:
            raise ConfigError("retention_days must be at least 1 (or unset to keep everything)")
        if self.poll_interval <= 0:
            raise ConfigError("poll_interval must be a positive number of seconds")
        if not 1 <= self.claim_lease <= 86_400:
            raise ConfigError("claim_lease must be between 1 and 86400 seconds")
        if not 1 <= self.handler_workers <= 256:
            raise ConfigError("handler_workers must be between 1 and 256")
        if self.extract_processes not in (0, 1):
            raise ConfigError(
                "extract_processes must be 0 (extract in the poller's thread) or 1 (in a child"
                " process beside the handlers)"
            )
        if not 1 <= self.batch_size <= 10_000:
            raise ConfigError("batch_size must be between 1 and 10000")
        if self.max_message_size < 1024 or self.batch_bytes < 1024:
            raise ConfigError("max_message_size and batch_bytes are in bytes: at least 1024")
        if self.handlers and ":" not in self.handlers:
            raise ConfigError(
                f"handlers must look like 'package.module:registry': {self.handlers!r}"
            )
        names = dataclasses.astuple(self.folders)
        if len(set(names)) != len(names) or not all(names):
            raise ConfigError(f"folder names must be distinct and non-empty: {self.folders}")

    @property
    def limits(self) -> Limits:
        """The engine's intake limits (max_message_size, batch_bytes)."""
        from mailcore.processing.engine import Limits

        return Limits(self.max_message_size, self.batch_bytes)

    def section(self, name: str) -> dict[str, Any]:
        """Another component's table (e.g. ``[console]``), with its environment overrides."""
        return dict(self.sections.get(name, {}))


_NOT_PLAIN = frozenset({"folders", "ident", "sections", "source", "mailbox_name", "mailboxes"})
# What a [[mailboxes]] entry may set besides `name`, `folders` and `ident`. The mailbox itself
# (imap_url or maildir) and its credentials are the entry's own; the rest, when unset, is the
# top level's.
MAILBOX_KEYS = frozenset(
    {"imap_url", "imap_password", "imap_oauth2_token", "maildir", "proxy", "ca_file"}
    | {"use_move", "imap_timeout", "handlers"}
)
_OWN_KEYS = ("imap_url", "imap_password", "imap_oauth2_token", "maildir")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _entries(
    top: Settings, entries: Any, env: Mapping[str, str], where: str
) -> tuple[Settings, ...]:
    """The [[mailboxes]] entries as Settings, checked: names unique slugs, each with its own
    mailbox, no two reading the same inbox; ``MAILCORE_MAILBOXES_<NAME>_<KEY>`` overrides."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(
            f"mailboxes in {where} must be a list of tables: [[mailboxes]] name = ..."
        )
    names = [_entry_name(e, i, where) for i, e in enumerate(entries)]
    taken = [] if _alone(top, entries) else [DEFAULT_MAILBOX]
    for name in names:
        if name == DEFAULT_MAILBOX and name in taken:
            raise ConfigError(
                f"{name!r} in {where} is the name of the top-level mailbox (imap_url or maildir"
                " outside [[mailboxes]]): name this entry otherwise, or move the top-level one"
                " into it"
            )
        if name in taken:
            raise ConfigError(f"two mailboxes are named {name!r} in {where}: names are unique")
        taken.append(name)
    overrides = _entry_env(env, names)
    out = tuple(
        _entry(top, _merged(e, overrides.get(n, {})), n, where)
        for e, n in zip(entries, names, strict=True)
    )
    _distinct([*([] if _alone(top, entries) else [top]), *out])
    return out


def _distinct(mailboxes: list[Settings]) -> None:
    """ConfigError when two mailboxes read the same inbox (each mail would be handled twice)."""
    seen: dict[tuple[str, str], str] = {}
    for s in mailboxes:
        place = (s.imap_url or os.path.abspath(s.maildir or ""), s.folders.inbox)
        if (s.imap_url or s.maildir) and place in seen:
            raise ConfigError(
                f"mailboxes {seen[place]!r} and {s.mailbox_name!r} both read {place[1]!r} of the"
                " same mailbox: each message would be handled once per entry"
            )
        seen[place] = s.mailbox_name


def _merged(entry: Mapping[str, Any], env: Mapping[str, Any]) -> dict[str, Any]:
    """An entry with its environment overrides, tables merged key by key."""
    out = {**entry, **env}
    for table in ("folders", "ident"):
        if table in env and isinstance(entry.get(table), dict):
            out[table] = {**entry[table], **env[table]}
    return out


def _alone(top: Settings, entries: list[Any]) -> bool:
    """Whether only [[mailboxes]] entries name a mailbox (the top level has none)."""
    return bool(entries) and not (top.imap_url or top.maildir)


def _entry_name(entry: Mapping[str, Any], index: int, where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"[[mailboxes]] number {index + 1} in {where} needs a name: lower-case letters,"
            f" digits and '-', starting with a letter, at most 32 (got {name!r})"
        )
    return name


def _entry_env(env: Mapping[str, str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``MAILCORE_MAILBOXES_<NAME>_<KEY>`` (name upper-cased, '-' as '_'), by mailbox name;
    ``..._FOLDERS_<FOLDER>`` and ``..._IDENT_<KEY>`` set those tables' keys."""
    prefix = ENV_PREFIX + "MAILBOXES_"
    found: dict[str, dict[str, Any]] = {}
    by_length = sorted(names, key=len, reverse=True)  # "orders-eu" before "orders"
    for var, raw in env.items():
        if not var.startswith(prefix):
            continue
        rest = var[len(prefix) :]
        name = next((n for n in by_length if rest.startswith(_env_name(n) + "_")), None)
        if name is None:
            raise ConfigError(
                f"{var} names no configured mailbox; there are: {', '.join(names) or 'none'}"
            )
        key = rest[len(_env_name(name)) + 1 :].lower()
        table, _, sub = key.partition("_")
        values = found.setdefault(name, {})
        if table in ("folders", "ident") and sub:
            values[table] = {**values.get(table, {}), sub: raw}
        else:
            values[key] = raw
    return found


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _entry(top: Settings, data: Mapping[str, Any], name: str, where: str) -> Settings:
    """One [[mailboxes]] entry: its keys over the top level's, checked."""
    where = f"[[mailboxes]] {name!r} of {where}"
    unknown = set(data) - MAILBOX_KEYS - {"name", "folders", "ident"}
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))} in {where}; known: name, folders,"
            f" ident, {', '.join(sorted(MAILBOX_KEYS))}"
        )
    hints = typing.get_type_hints(Settings)
    values: dict[str, Any] = dict.fromkeys(_OWN_KEYS)
    for key in MAILBOX_KEYS & set(data):
        values[key] = _coerce(key, data[key], hints[key], where)
    if not (values["imap_url"] or values["maildir"]):
        raise ConfigError(f"{where} needs its own imap_url or maildir")
    folders = _table(
        Folders, {**dataclasses.asdict(top.folders), **_dict(data, "folders")}, where, "folders"
    )
    ident = _table(Ident, {**dataclasses.asdict(top.ident), **_dict(data, "ident")}, where, "ident")
    entry = dataclasses.replace(
        top, **values, folders=folders, ident=ident, mailbox_name=name, mailboxes=()
    )
    try:
        entry.check()
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return entry


def _dict(data: Mapping[str, Any], table: str) -> dict[str, Any]:
    value = data.get(table, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{table} of a [[mailboxes]] entry must be a table ([mailboxes.{table}])")
    return value


def _coerce(name: str, value: Any, hint: Any, where: str) -> Any:
    """`value` as the type of setting `name`, or a ConfigError saying what was expected."""
    args = typing.get_args(hint)
    optional = type(None) in args or isinstance(hint, types.UnionType) and type(None) in args
    target = next((a for a in args if a is not type(None)), hint)
    if value is None or (optional and isinstance(value, str) and value.strip() == ""):
        if optional:
            return None
        raise ConfigError(f"{name} in {where} cannot be empty")
    try:
        if target is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if target is int and not isinstance(value, bool):
            return int(value)
        if target is float and not isinstance(value, bool):
            return float(value)
        if target is str and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    except ValueError:
        pass
    kind = getattr(target, "__name__", str(target))
    raise ConfigError(f"{name} in {where} must be a {kind}, got {value!r}")


def _table(cls: Any, data: Mapping[str, Any], where: str, table: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))} in [{table}] of {where};"
            f" known: {', '.join(sorted(known))}"
        )
    return cls(**{k: _coerce(f"{table}.{k}", v, str, where) for k, v in data.items()})


def oauth2_source(settings: Settings) -> TokenSource | None:
    """The token source of the [oauth2] table (IMAP and SMTP logins ask it for a fresh access
    token), None when it names no provider."""
    if not settings.section("oauth2").get("provider"):
        return None
    from mailcore.oauth2 import token_source

    return token_source(settings)


def open_mailbox(settings: Settings) -> Mailbox:
    """The mailbox the settings describe: IMAP when imap_url is set, else the Maildir set as
    maildir; ConfigError when neither is."""
    if settings.imap_url:
        from mailcore.mailboxes.imap import ImapConfig, ImapMailbox

        # Only what the settings change: parameters in the URL's query string hold otherwise.
        overrides: dict[str, Any] = {}
        if not settings.use_move:
            overrides["use_move"] = False
        if settings.imap_timeout != Settings.imap_timeout:
            overrides["timeout"] = settings.imap_timeout
        for key, value in (
            ("password", settings.imap_password),
            ("oauth2_token", settings.imap_oauth2_token),
            ("proxy", settings.proxy),
            ("ca_file", settings.ca_file),
        ):
            if value:
                overrides[key] = value
        source = oauth2_source(settings)
        if source is not None:  # tokens that refresh: mailcore.oauth2
            overrides.update(oauth2_source=source, oauth2_mechanism=source.settings.mechanism)
        try:
            config = ImapConfig.from_url(settings.imap_url, **overrides)
        except ValueError as e:
            raise ConfigError(f"imap_url: {e}") from None
        return ImapMailbox(config)
    from mailcore.mailboxes.maildir import MaildirMailbox

    if not settings.maildir:  # never a ./mail/ made up in whatever directory this runs in
        raise ConfigError(
            "no mailbox configured: set imap_url (or maildir) in the settings file"
            " (--config, or MAILCORE_CONFIG), or MAILCORE_IMAP_URL (or MAILCORE_MAILDIR)"
        )
    return MaildirMailbox(settings.maildir)
