"""A fake Telegram Bot API server and friends, outside the product: the demo and the tests run the
real bot against it (`python -m fake_telegram --help` runs it by hand).

- server.py: the fake Bot API server itself
- harness.py: the real Application wired to a fake server, in this process
- deployment.py: a generated deployment, `apel-bot run` in a subprocess (benchmarks, crash tests)
"""
