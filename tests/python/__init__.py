"""Unit tests of the Python binding (python/gradflow); run from the repo root:
python3 -m unittest discover -s tests/python -t ."""
