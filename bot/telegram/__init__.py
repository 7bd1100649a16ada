"""The Telegram adapter: handlers parse, authorise, call a service and render; nothing else."""
