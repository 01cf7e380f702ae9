"""Push ingress: mail handed to mailcore (by an MTA's pipe, or an HTTP POST) instead of polled.

Every path ends in `store.store_message`, which APPENDs the message to the inbox of the
configured mailbox and returns only once the mailbox confirmed it; the engine then processes
it like any polled mail. The modules, one job each:

- envelope: the envelope recipient and sender, written as trace fields (pure);
- spool: the message's bytes while they arrive, bounded, on disk once large;
- store: the durable store, and the errors that mean "try again later";
- settings: the ``[ingress]`` table (limits, the endpoints' secrets);
- signatures: each provider's documented request check, and the replay guard (pure);
- form: multipart/form-data read as a stream, the message field spooled.

`mailcore ingest` (mailcore/commands/ingest.py) and the console's /ingress endpoints
(console/ingress.py) are the callers.
"""

from mailcore.ingress.envelope import Envelope, EnvelopeInvalid, trace_fields
from mailcore.ingress.settings import IngressSettings
from mailcore.ingress.spool import MessageTooLarge, Spool
from mailcore.ingress.store import EmptyMessage, StoreUnavailable, store_message

__all__ = [
    "EmptyMessage",
    "Envelope",
    "EnvelopeInvalid",
    "IngressSettings",
    "MessageTooLarge",
    "Spool",
    "StoreUnavailable",
    "store_message",
    "trace_fields",
]
