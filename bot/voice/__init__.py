"""Voice messages: fetch the audio from the platform, decode it in memory, transcribe it
through an OpenAI-compatible speech-recognition server, and hand the transcript on as text."""
