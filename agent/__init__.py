"""JetDeck's reference build agent, a program of its own built on the client: `python -m agent`."""
