"""Retrieval over interaction history (Chroma index and LLM answers); see issue on retrieval."""
