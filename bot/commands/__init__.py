"""`apel-bot` subcommands: each module registers its parsers and is a thin call into services."""
