"""Tamper-evident audit trail: a hash chain of events and RFC 6962 Merkle checkpoints.

Services call `bot.audit.chain.append` inside their own transaction; `bot.audit.checkpoint`
signs the tree head. Checking it all (and the tables against it) is bot/inspection/'s job.
Nothing here imports Telegram.
"""
