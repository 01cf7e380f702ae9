"""mailcore: turn partners' e-mails into payloads, and write them conservative replies."""

from mailcore.errors import MailcoreError

__all__ = ["MailcoreError"]
__version__ = "0.1.0"
