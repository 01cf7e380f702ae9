"""Inbound extraction: raw bytes in, an `Extraction` out. Pure: no sockets, files or database,
and nothing of mailcore's other layers (only `mailcore.ident` and `mailcore.errors`)."""
