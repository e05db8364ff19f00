"""The recommendation as an architecture decision record (`adr`, rendered by `blocks`) and its charts
(`plots`)."""
