"""smart-preprocessor: validation and cleaning of raw readings, invalid ones to the dead-letter
topic."""
