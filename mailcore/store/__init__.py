"""The store: processing history, handled marks, retention and template versions, on SQLAlchemy
(SQLite by default, PostgreSQL by URL)."""
