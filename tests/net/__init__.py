# A package, so that its conftest is imported as net.conftest and does not
# shadow tests/conftest.py (a module name every conftest without a package shares).
