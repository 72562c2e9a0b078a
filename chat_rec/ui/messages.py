"""Short messages shown to people (details go to the log)."""

EMPTY = "Type what you'd like to watch first — a genre, a mood, an era, or a movie you liked."
UNKNOWN_USER = "There is no user {user} in this catalog; continuing as a new user."
INTERNAL = "Something went wrong on our side; your conversation is kept. Please try again."
