# A package, so that its conftest is imported as net.conftest and does not
# shadow tests/conftest.py for the modules that do `from conftest import ...`.
