"""Fitting what the chat serves: the BERT context re-ranker, the fusion weights, the feedback head; and the
recorded dialogues replayed as chat sessions (``replay``)."""
