"""The words that give a bounce away: system senders, subjects and each MTA family's sentences.

Data only, read by `mailcore.inbound.bounces`; everything is lowercase and matched as plain
substrings. Each family's sentences are the fixed text its software writes (seen in the
development corpora under tests/fixtures/bounces/, named in the comment).
"""

from __future__ import annotations

__all__ = ["COPY_MARKERS", "FAMILIES", "SUBJECTS", "SYSTEM_LOCAL_PARTS", "SYSTEM_NAMES"]

# Local parts of the addresses mail systems send bounces from.
SYSTEM_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "mailerdaemon",
        "mail-daemon",
        "maildaemon",
        "mail.delivery.system",
        "mdaemon",
        "postmaster",
        "ndr",
        "mailadm",
        "imss",
        "mail-delivery-system",
        "mailer",
        "mailman-bounces",
        "ezmlm",
        "listserv",
        "majordomo-owner",
        "bounce",
        "bounces",
        "mmdf",
        "smtp",
        "noreply-bounce",
    }
)

# Words of the display names they use ("Mail Delivery Subsystem", "System Administrator").
SYSTEM_NAMES = (
    "mail delivery",
    "mailer-daemon",
    "mailer daemon",
    "postmaster",
    "system administrator",
    "mail system",
    "delivery subsystem",
    "e-mail interconnect",
    "mail administrator",
)

# Subjects of delivery reports, any language their software writes (prefix or anywhere).
SUBJECTS = (
    "undeliverable",
    "undelivered mail",
    "non-delivery",
    "nondelivery",
    "undelivered message",
    "returned mail",
    "delivery failure",
    "delivery failed",
    "delivery status notification",
    "failure notice",
    "mail delivery failed",
    "mail delivery failure",
    "nondeliverable",
    "non-deliverable",
    "not delivered",
    "could not be delivered",
    "delivery notification",
    "mail system error",
    "returned to sender",
    "delivery has failed",
    "message status - undeliverable",
    "warning: could not send message",
    "delivery delayed",
    "delayed mail",
    "delivery problem",
    "mail failure",
    "failed mail",
    "message delivery failure",
    "bounced mail",
    "rejected:",
    "unzustellbar",
    "non remis",
    "nicht zustellbar",
    "no se puede entregar",
    "onbestelbaar",
    "non recapitabile",
    "olevererbart",
    "kan ikke leveres",
    "niedostarczalna",
    "nedoručitelné",
    "не доставлено",
    "недоставлен",
    "配信不能",
    "配送失敗",
    "無法傳遞",
    "无法投递",
    "退信",
)

# Lines that start the copy of the returned message inside a text bounce: where the notice ends.
COPY_MARKERS = (
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "----- original message",
    "--- original message",
    "----- unsent message below",
    "-----original message-----",
    "original message headers",
    "------ this is a copy",
    "--- the header of the original message",
    "returned message",
    "undelivered message follows",
    "----- message header follows",
    "---- start of returned",
    "the headers of your message",
    "message headers follow",
    "returned mail follows",
)

# (family, sentences): a bounce is of the first family one of whose sentences it holds.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("qmail", ("this is the qmail-send program", "qmail-send program at", "qmail-ldap")),
    ("ezmlm", ("this is the ezmlm program",)),
    ("mailman", ("mailman", "your message to the list", "posting to a moderated list")),
    ("listserv", ("listserv", "majordomo")),
    ("postfix", ("this is the mail system at host", "this is the postfix program")),
    (
        "exim",
        (
            "this message was created automatically by mail delivery software",
            "a message that you sent could not be delivered to one or more of its",
        ),
    ),
    (
        "office365",
        ("couldn't be delivered", "office 365", "more info for email admins"),
    ),
    (
        "exchange",
        (
            "did not reach the following recipient",
            "delivery has failed to these recipients",
            "the following recipient(s) cannot be reached",
            "msexch",
            "the e-mail system was",
            "your message did not reach some or all of the intended recipients",
        ),
    ),
    ("domino", ("not listed in domino directory", "was not delivered to:")),
    ("groupwise", ("the message that you sent was undeliverable to the following",)),
    ("smtp32", ("original message follows.", "imail", "smtp32")),
    ("trendmicro", ("interscan", "trend micro", "imss")),
    (
        "amazon-ses",
        (
            "an error occurred while trying to deliver the mail to the following recipients",
            '"notificationtype":"bounce"',
            '"notificationtype": "bounce"',
            "amazonses",
        ),
    ),
    ("yahoo", ("message from yahoo", "unable to deliver your message to the following address")),
    ("aol", ("--aol postmaster", "aol postmaster")),
    ("mdaemon", ("mdaemon",)),
    (
        "sendmail",
        (
            "----- the following addresses had permanent fatal errors -----",
            "----- transcript of session follows -----",
            "the original message was received at",
            "----- the following addresses had transient non-fatal errors -----",
        ),
    ),
    (
        "jp-carrier",
        ("docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "i.softbank.jp"),
    ),
    (
        "generic",
        (
            "could not be delivered",
            "undeliverable",
            "delivery failed",
            "user unknown",
            "permanent error",
            "permanent fatal error",
            "delivery to the following recipient",
            "message could not be delivered",
            "unable to deliver",
            "was not delivered",
            "delivery has failed",
            "could not deliver",
            "delivery failure",
            "not be delivered",
            "will continue to try",
            "has not yet been delivered",
            "delivery to the following",
        ),
    ),
)
