"""LlamaIndex integrations for Arli AI."""
