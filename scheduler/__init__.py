"""Reminder planning and delivery (birthdays, maturities, follow-ups)."""
