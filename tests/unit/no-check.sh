#!/bin/sh
# Stands in for the unit tests when configure did not find Check.
echo "Check (the C unit test framework, >= 0.11) was not found when configure ran." >&2
echo "Install it (apt-get install check), re-run ./configure, then make check." >&2
exit 1
