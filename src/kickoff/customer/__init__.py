"""The customer's side of an onboarding: their personal link, their page, and booking."""
