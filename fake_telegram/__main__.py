"""`python -m fake_telegram --port 8081 ...`: the fake Bot API server, by hand."""

from fake_telegram.server import main

raise SystemExit(main())
