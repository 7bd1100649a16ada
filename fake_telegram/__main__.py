"""`python -m fake_telegram --port 8081 ...`: the fake Bot API server, by hand."""

from fake_telegram.cli import main

raise SystemExit(main())
