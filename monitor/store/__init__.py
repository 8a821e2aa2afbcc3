"""The database: engine, tables, migrations, and every query by intent (articles, stories, feeds, alerts, outbox)."""
