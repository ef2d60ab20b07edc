"""The support assistant's understanding: intents and entities of messages, and their evaluation."""
