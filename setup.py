"""The one build step pyproject.toml cannot say: the wheel carries the repository's top-level
`templates/` and `static/` inside the packages that use them.

In the wheel `templates/` becomes `console/templates/` (without `email/`), `static/` becomes
`console/static/` and `templates/email/` becomes `mailcore/outbound/layouts/`; the console and
`mailcore.outbound.compose` look beside their module first and fall back to the checkout's
top-level directories (editable installs). Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

# package in the wheel -> directory in the repository
ASSETS = {
    "console.templates": "templates",
    "console.static": "static",
    "mailcore.outbound.layouts": "templates/email",
}

setup(
    packages=[
        *find_namespace_packages(include=["mailcore*", "console*"], exclude=["*.__pycache__"]),
        *ASSETS,
    ],
    package_dir=ASSETS,
)
