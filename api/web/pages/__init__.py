"""Page routes per domain: cases (intake, record, history, sheet), people and consents, administration."""
