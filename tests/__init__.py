"""Makes tests/ importable so unittest can discover tests/python from the repo root."""
