"""`python -m outreach.cli`: the same as the `outreach` command."""

from outreach.cli.main import main

main()
