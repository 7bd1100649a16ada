"""Tamper-evident audit trail: a hash chain of events, RFC 6962 Merkle checkpoints, verification.

Services call `bot.audit.chain.append` inside their own transaction; `bot.audit.checkpoint`
signs the tree head; `bot.audit.verify` and `bot.audit.bundle` let an inspector check it all.
Nothing here imports Telegram.
"""
