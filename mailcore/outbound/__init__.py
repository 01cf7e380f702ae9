"""Outbound mail: sandboxed templates and their limits, sanitizing, composition as
multipart/alternative (JSON, text, HTML), S/MIME signing, sending over SMTP."""
