"""Outbound mail: sandboxed templates and their limits, sanitizing, composition as
multipart/alternative (JSON, text, HTML), S/MIME signing, sending over SMTP.

- `templating`: templates and rendering (`Template`, `render`, `render_all`, template files),
  built from `template_sandbox` (the sandboxed environment and its loop budget),
  `template_markers` (values as inert markers), `template_html` (Markdown to clean HTML, values
  put back), `template_problems` (`Problem` and how problems are reported).
- `template_limits` (the budget of one render and its estimates), `template_filters` (the
  filters and ``str.format`` limited by it), `markdown_limits` (the Markdown pre-pass).
- `sanitize` (the HTML allowlist), `compose`, `smime`, `smtp`, `settings`.
"""
