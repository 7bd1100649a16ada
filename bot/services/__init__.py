"""Services: the product's rules. Pure Python, no Telegram; each takes a Session and a Clock."""
