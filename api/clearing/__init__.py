"""Clearing free text for an outside audience: propose a version with every recorded person's name replaced.

`names.propose(text, people)` finds every form of every recorded person's name (declined, Belarusian, Russian,
Latin, initials) and returns the cleared text with the list of changes a coordinator reviews and approves.
Pure and database-free: the caller opens the identities and passes them in.
"""
