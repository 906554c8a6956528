"""Shared logic of the Russian GlowTTS kit: text front end, audio, dataset, training, synthesis."""
