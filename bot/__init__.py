"""apel-bot: neutrality apel briefings and pledges for Indonesian correctional units."""
