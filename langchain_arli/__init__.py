"""LangChain integrations for Arli AI."""
