//! PostgreSQL SQL on SQLite: translation, types and OIDs, catalog.
