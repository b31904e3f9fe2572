"""Kickoff: every signed contract becomes a durable Temporal onboarding run."""
