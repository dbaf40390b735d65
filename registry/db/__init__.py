"""The database: one SQLAlchemy Base and every table (models, records, tsa, and the
tables of the audit log and of clients), the store, SQL error translation, migrations."""
