"""A fake Telegram Bot API server and friends, outside the product: the demo and the tests run the
real bot against it (`python -m fake_telegram --help` runs it by hand).

The server, a module a job:
- server.py: FakeTelegram, the HTTP side: routes, one Bot API call from request to answer
- world.py: what a test calls on it: set up chats and users, act as a user, read back, faults
- wire.py: parameters in, error answers out; text.py: Telegram's HTML to text and entities
- chats.py, messages.py, files.py: the chats and users, the bot's messages, the files
- sending.py, editing.py, callbacks.py, admin.py: the Bot API methods, by job
- updates.py (+ webhook.py): the updates queue, getUpdates, setWebhook and the push
- users.py: user actions as updates; limits.py: Telegram's limits; faults.py: injected faults
- traffic.py: the call log and counters; control.py: /_control/ for other processes
- cli.py: `python -m fake_telegram`

And around it:
- harness.py: the real Application wired to a fake server, in this process
- deployment.py: a generated deployment, `apel-bot run` in a subprocess (benchmarks, crash tests)
"""
